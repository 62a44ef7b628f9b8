import { performance } from 'node:perf_hooks';
import { formatDefaultReport, runDefaultScenario } from './index.js';

// Host time is measured here, outside the model, which only knows its simulated clock.
const t0 = performance.now();
const result = runDefaultScenario();
const hostMs = performance.now() - t0;
console.log(formatDefaultReport(result));
console.log(`\n  host time to run the model: ${hostMs.toFixed(0)} ms`);
