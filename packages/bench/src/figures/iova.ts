import { IOVA_ALLOC_FAILED, IovaDomain } from '@sharedbuf/iommu';
import { type BenchContext, type FigureSet, fmt, median, nowMs, xorshift32 } from '../harness.js';

/** One IOVA workload of BENCH-SPEC.md: live-set size, limit, seed, untimed and timed pairs, digest. */
interface IovaWorkload {
  readonly figure: string;
  readonly live: number;
  readonly limitPfn: number;
  readonly seed: number;
  readonly warmPairs: number;
  readonly timedPairs: number;
  readonly digest: number;
}

const WORKLOADS: readonly IovaWorkload[] = [
  {
    figure: 'iova_alloc_free_per_s_live_1000',
    live: 1000,
    limitPfn: 2 ** 20 - 1,
    seed: 0x9e3779b9,
    warmPairs: 10_000,
    timedPairs: 500_000,
    digest: 2573120302055,
  },
  {
    figure: 'iova_alloc_free_per_s_live_100000',
    live: 100_000,
    limitPfn: 2 ** 36 - 1,
    seed: 0x85ebca6b,
    warmPairs: 0,
    timedPairs: 10_000,
    digest: 3435910597638285,
  },
];

const GRANULE = 4096;
const START_PFN = 1;
const REPS = 5;

/** What one repetition measured: elapsed milliseconds of the timed pairs and the sum of their pfns. */
interface RepResult {
  readonly ms: number;
  readonly pfnSum: number;
}

/**
 * One repetition from a fresh domain: `live` allocations, `warm` untimed pairs, `timed` timed pairs.
 * A pair allocates a size-aligned range of 1..64 pages and frees a random live one, exactly as the
 * spec's pseudo-code; allocation goes through `alloc_iova` (its allocation-free entry point).
 */
const runRep = (w: IovaWorkload, live: number, warm: number, timed: number): RepResult => {
  const domain = new IovaDomain(GRANULE, START_PFN);
  const rnd = xorshift32(w.seed);
  const pfns = new Float64Array(live + 1);
  let count = 0;
  const alloc = (): number => {
    const pfn = domain.allocIovaPfn(1 + (rnd() % 64), w.limitPfn, true);
    if (pfn === IOVA_ALLOC_FAILED)
      throw new Error(`${w.figure}: alloc_iova failed; the workload never fills the space`);
    return pfn;
  };
  const pair = (): number => {
    const pfn = alloc();
    pfns[count++] = pfn;
    const i = rnd() % count;
    domain.freeIova(pfns[i]!);
    pfns[i] = pfns[--count]!;
    return pfn;
  };
  for (let k = 0; k < live; k++) pfns[count++] = alloc();
  for (let k = 0; k < warm; k++) pair();
  let pfnSum = 0;
  const t0 = nowMs();
  for (let k = 0; k < timed; k++) pfnSum += pair();
  return { ms: nowMs() - t0, pfnSum };
};

const measure = (ctx: BenchContext, w: IovaWorkload): number => {
  const live = ctx.quick ? Math.min(w.live, 200) : w.live;
  const warm = ctx.quick ? Math.min(w.warmPairs, 100) : w.warmPairs;
  const timed = ctx.quick ? 2000 : w.timedPairs;
  const reps = ctx.quick ? 1 : REPS;
  const rates: number[] = [];
  let digest = 0;
  for (let r = 0; r < reps; r++) {
    const { ms, pfnSum } = runRep(w, live, warm, timed);
    rates.push(timed / (ms / 1000));
    digest += pfnSum;
  }
  const figure = median(rates);
  const verdict = ctx.quick ? '(quick mode: not comparable)' : digest === w.digest ? 'ok' : 'MISMATCH';
  ctx.log(`${w.figure}: ${fmt(figure)} alloc+free pairs/s   digest ${digest} (spec ${w.digest}) ${verdict}`);
  if (!ctx.quick && digest !== w.digest) {
    throw new Error(
      `${w.figure}: digest ${digest} differs from the spec's ${w.digest}: placement is not Linux's`,
    );
  }
  return figure;
};

/**
 * The IOVA allocator figures of BENCH-SPEC.md: alloc_iova + free_iova pairs per second with 1000 and
 * 100000 live ranges, placement checked against the spec's digests.
 */
export const iovaFigures: FigureSet = {
  name: 'IOVA allocator',
  run(ctx) {
    const out: Record<string, number> = {};
    for (const w of WORKLOADS) out[w.figure] = measure(ctx, w);
    return out;
  },
};
