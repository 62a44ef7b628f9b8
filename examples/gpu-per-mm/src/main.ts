import { formatGpuPerMmReport, runGpuPerMm } from './index.js';

console.log(formatGpuPerMmReport(runGpuPerMm()));
