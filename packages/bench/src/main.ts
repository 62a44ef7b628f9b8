import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { figureSets } from './figures/index.js';
import type { BenchContext, FigureSet } from './harness.js';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const ctx: BenchContext = { quick, log: (line) => console.log(line) };
const results: Record<string, number> = {};

ctx.log(`sharedbuf benchmarks${quick ? ' (quick mode: figures are not meaningful)' : ''}`);
for (const set of figureSets as readonly FigureSet[]) {
  if (only !== undefined && !set.name.includes(only)) continue;
  ctx.log(`\n== ${set.name}`);
  Object.assign(results, set.run(ctx));
}
const out = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bench-results.json');
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
ctx.log(`\nwrote ${Object.keys(results).length} figures to bench-results.json`);
