import {
  EventBus,
  type MemoryEvents,
  PageAllocator,
  PhysicalMemory,
  type RamBank,
} from '@sharedbuf/platform';
import { type BenchContext, type FigureSet, fmt, timeRate, xorshift32 } from '../harness.js';

const GiB = 2 ** 30;
/** The measured machine: 2 GiB of RAM below 4 GiB and 6 GiB above it. */
const BANKS: readonly RamBank[] = [
  { name: 'dram0', base: 0x8000_0000, size: 2 * GiB },
  { name: 'dram1', base: 0x8_8000_0000, size: 6 * GiB },
];
const LIVE = 100_000;
const SEED = 0x2545_f491;
const BATCH = 4096;

/** One order-0 page through the public entry point, `allocPages(0)`. */
const allocPage = (pa: PageAllocator): number => {
  const r = pa.allocPages(0);
  if (r._tag === 'Left') throw new Error(`page_alloc bench: ${r.left.message}`);
  return r.right;
};

/**
 * The steady state of the figure: LIVE order-0 pages allocated, then pairs "allocate one page; free a
 * live page chosen by `rnd() % (LIVE + 1)` (the new one included); the last slot fills the hole", as the
 * IOVA workloads of BENCH-SPEC.md pair their operations. Returns the timed step: BATCH pairs.
 */
const churn = (): (() => number) => {
  const pa = new PageAllocator(new PhysicalMemory(BANKS), new EventBus<MemoryEvents>('memory'));
  const rnd = xorshift32(SEED);
  // This machine's pfns are below 2^24, so 32-bit slots hold them exactly (and halve the bench's own
  // cache footprint).
  const live = new Uint32Array(LIVE + 1);
  for (let i = 0; i < LIVE; i++) live[i] = allocPage(pa);
  return (): number => {
    for (let k = 0; k < BATCH; k++) {
      live[LIVE] = allocPage(pa);
      const i = rnd() % (LIVE + 1);
      const freed = pa.freePages(live[i] as number, 0);
      if (freed._tag === 'Left') throw new Error(`page_alloc bench: ${freed.left.message}`);
      live[i] = live[LIVE] as number;
    }
    return BATCH;
  };
};

/** The page allocator's figures: order-0 alloc+free pairs per second with 100 000 pages live. */
export const pageAllocFigures: FigureSet = {
  name: 'page allocator',
  run(ctx: BenchContext): Record<string, number> {
    const rate = timeRate(ctx, churn());
    ctx.log(`page_alloc_free_per_s      ${fmt(rate)} pairs/s (allocPages + freePages, ${fmt(LIVE)} live)`);
    return { page_alloc_free_per_s: rate };
  },
};
