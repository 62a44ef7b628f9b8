import { ArmLpaeS1Pgtable, IOMMU_READ, IOMMU_WRITE } from '@sharedbuf/iommu';
import { fail, ok, PAGE_SIZE, PhysicalMemory, unwrap } from '@sharedbuf/platform';
import { type BenchContext, type FigureSet, fmt, shuffle, timeRate, xorshift32 } from '../harness.js';

/** BENCH-SPEC.md, "IO page table": a 1 GiB window of 4 KiB pages. */
const WINDOW_BASE = 0x1000_4000_0000;
const WINDOW_PAGES = 262_144;
const MAP_SEED = 0xc2b2ae35;
const LOOKUP_SEED = 0x27d4eb2f;
const LOOKUP_BATCH = 65_536;
const PROT = IOMMU_READ | IOMMU_WRITE;
/** RAM for the tables only (the mapped pages need none: mapping does not touch them). */
const TABLE_BANK = { name: 'io-pgtables', base: 0x4000_0000, size: 8 << 20 };

/** Physical address of window page `p`, exactly as the spec defines it. */
const physOf = (p: number): number => (Math.imul(p, 0x9e3779b1) >>> 4) * PAGE_SIZE;

/** A fresh table over a small bank, with a stack of free table pages as its page source. */
const freshTable = (): ArmLpaeS1Pgtable => {
  const memory = new PhysicalMemory([TABLE_BANK]);
  const freePfns: number[] = [];
  let nextPfn = TABLE_BANK.base / PAGE_SIZE;
  const endPfn = (TABLE_BANK.base + TABLE_BANK.size) / PAGE_SIZE;
  return unwrap(
    ArmLpaeS1Pgtable.alloc({
      memory,
      allocTable: () => {
        const pfn = freePfns.pop() ?? (nextPfn < endPfn ? nextPfn++ : -1);
        return pfn < 0 ? fail('ENOMEM', 'bench table bank exhausted') : ok(pfn);
      },
      freeTable: (pfn) => freePfns.push(pfn),
    }),
  );
};

const mapAll = (pt: ArmLpaeS1Pgtable, order: Uint32Array): void => {
  for (let i = 0; i < order.length; i++) {
    const p = order[i] as number;
    unwrap(pt.mapPages(WINDOW_BASE + p * PAGE_SIZE, physOf(p), PAGE_SIZE, 1, PROT));
  }
};

const unmapAll = (pt: ArmLpaeS1Pgtable, order: Uint32Array): void => {
  for (let i = 0; i < order.length; i++) {
    const p = order[i] as number;
    if (pt.unmapPages(WINDOW_BASE + p * PAGE_SIZE, PAGE_SIZE, 1) !== PAGE_SIZE) {
      throw new Error(`bench: unmap of window page ${p} failed`);
    }
  }
};

/**
 * `pgtable_map_unmap_4k_per_s`: rounds per second, a round mapping every window page and then
 * unmapping every one (BENCH-SPEC: "unit = one round"); the log also gives map+unmap pairs per second.
 */
const mapUnmapRate = (ctx: BenchContext, pages: number): number => {
  const rnd = xorshift32(MAP_SEED);
  const mapOrder = shuffle(pages, rnd);
  const unmapOrder = shuffle(pages, rnd);
  const pt = freshTable();
  const round = (): number => {
    mapAll(pt, mapOrder);
    unmapAll(pt, unmapOrder);
    return 1;
  };
  round();
  const rate = timeRate(ctx, round);
  ctx.log(
    `pgtable_map_unmap_4k_per_s: ${fmt(rate, 2)} rounds/s (${fmt(rate * pages)} map+unmap pairs/s), ${pt.tablePages} table pages`,
  );
  pt.free();
  return rate;
};

/** `pgtable_iova_to_phys_per_s`: random lookups (with in-page offsets) over the fully mapped window. */
const lookupRate = (ctx: BenchContext, pages: number): number => {
  const pt = freshTable();
  mapAll(pt, shuffle(pages, xorshift32(MAP_SEED)));
  const pageMask = pages - 1;
  const lookupAt = (x: number): number =>
    pt.iovaToPhys(WINDOW_BASE + (x & pageMask) * PAGE_SIZE + ((x >>> 18) & 0xfff));
  const lookups = (rnd: () => number, n: number): void => {
    for (let i = 0; i < n; i++) {
      const x = rnd();
      pt.iovaToPhys(WINDOW_BASE + (x & pageMask) * PAGE_SIZE + ((x >>> 18) & 0xfff));
    }
  };
  // The exact sum of the first batch's results, untimed: a digest any implementation must reproduce.
  const first = xorshift32(LOOKUP_SEED);
  let digest = 0n;
  for (let i = 0; i < LOOKUP_BATCH; i++) digest += BigInt(lookupAt(first()));
  const check = xorshift32(LOOKUP_SEED)();
  const want = physOf(check & pageMask) + ((check >>> 18) & 0xfff);
  if (pt.iovaToPhys(WINDOW_BASE + (check & pageMask) * PAGE_SIZE + ((check >>> 18) & 0xfff)) !== want) {
    throw new Error('bench: iova_to_phys returned a wrong address');
  }
  const rnd = xorshift32(LOOKUP_SEED);
  const rate = timeRate(ctx, () => {
    lookups(rnd, LOOKUP_BATCH);
    return LOOKUP_BATCH;
  });
  ctx.log(
    `pgtable_iova_to_phys_per_s: ${fmt(rate)} lookups/s (digest: sum of the first ${LOOKUP_BATCH} results = ${digest})`,
  );
  pt.free();
  return rate;
};

/** The IO page table figures of BENCH-SPEC.md, through `ArmLpaeS1Pgtable`'s public map/unmap/iova_to_phys. */
export const pgtableFigures: FigureSet = {
  name: 'IO page table',
  run(ctx) {
    // Quick mode keeps the scripts honest on a 4096-page window; its figures mean nothing.
    const pages = ctx.quick ? 4096 : WINDOW_PAGES;
    return {
      pgtable_map_unmap_4k_per_s: mapUnmapRate(ctx, pages),
      pgtable_iova_to_phys_per_s: lookupRate(ctx, pages),
    };
  },
};
