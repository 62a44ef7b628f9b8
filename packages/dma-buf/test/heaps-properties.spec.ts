import { fc, test as fcTest } from '@fast-check/vitest';
import { alignUp, MAX_PAGE_ORDER, PAGE_SIZE, Platform, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { expect } from 'vitest';
import {
  type BackingPlan,
  type HeapCapabilities,
  KiB,
  MiB,
  NO_LIMIT,
  type PhysRun,
} from '../src/constraints/index.js';
import { type Backing, defaultHeaps } from '../src/heaps/index.js';

const planFor = (
  heap: HeapCapabilities,
  size: number,
  o: { chunkFloor: number; maxAddress: number; alignment: number },
): BackingPlan => ({
  size,
  heap: heap.name,
  heapKind: heap.kind,
  physicallyContiguous: heap.physicallyContiguous,
  chunks: [],
  chunkFloor: heap.physicallyContiguous ? 0 : o.chunkFloor,
  backingBytes: size,
  maxAddress: o.maxAddress,
  alignment: heap.physicallyContiguous ? o.alignment : o.chunkFloor,
  segmentSize: NO_LIMIT,
  expectedSegmentCount: 1,
  attachers: [],
  bounced: [],
  cpuNeedsCacheMaintenance: false,
  reasons: [],
});

/** A 32 MiB machine: CMA at 8..16 MiB, a carveout at 20..22 MiB. Small enough to check page by page. */
const SMALL = {
  banks: [{ name: 'dram0', base: 0, size: 32 * MiB }],
  cma: [{ name: 'cma0', base: 8 * MiB, size: 8 * MiB }],
  carveouts: [{ name: 'carve0', base: 20 * MiB, size: 2 * MiB }],
};

/** Per page of `[0, count)` from `basePfn`: 1 when it is free and `usable`, from the pages' counters. */
const freeMap = (
  p: Platform,
  basePfn: number,
  count: number,
  usable: (pfn: number) => boolean,
): Uint8Array => {
  const map = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const pfn = basePfn + i;
    map[i] = usable(pfn) && p.pages.pages.compoundHead(pfn) < 0 ? 1 : 0;
  }
  return map;
};

/** Fully free, naturally aligned windows of `chunk` bytes below `limit`, counted page by page. */
const bruteChunks = (map: Uint8Array, basePfn: number, chunk: number, limit: number): number => {
  const w = chunk / PAGE_SIZE;
  const end = Math.min(basePfn + map.length, Math.floor((limit + 1) / PAGE_SIZE));
  let n = 0;
  for (let start = alignUp(basePfn, w); start + w <= end; start += w) {
    if (map.subarray(start - basePfn, start - basePfn + w).every((x) => x === 1)) n += 1;
  }
  return n;
};

const bruteFreeBytes = (map: Uint8Array, basePfn: number, limit: number): number =>
  map.subarray(0, Math.max(0, Math.floor((limit + 1) / PAGE_SIZE) - basePfn)).reduce((n, x) => n + x, 0) *
  PAGE_SIZE;

/** Longest free run below `limit` whose start is `align`-aligned, page by page. */
const bruteLargest = (map: Uint8Array, basePfn: number, align: number, limit: number): number => {
  const end = Math.min(map.length, Math.floor((limit + 1) / PAGE_SIZE) - basePfn);
  let best = 0;
  for (let i = 0; i < end; ) {
    if (map[i] === 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < end && map[j] === 1) j += 1;
    const start = alignUp(basePfn + i, align / PAGE_SIZE) - basePfn;
    best = Math.max(best, (j - start) * PAGE_SIZE);
    i = j;
  }
  return best;
};

const noOverlap = (backings: readonly Backing[]): boolean => {
  const runs: PhysRun[] = backings.flatMap((b) => b.runs).sort((a, b) => a.phys - b.phys);
  return runs.every(
    (r, i) => i === 0 || (runs[i - 1] as PhysRun).phys + (runs[i - 1] as PhysRun).length <= r.phys,
  );
};

const op = fc.oneof(
  fc.record({
    kind: fc.constant('alloc' as const),
    heap: fc.integer({ min: 0, max: 2 }),
    pages: fc.integer({ min: 1, max: 1100 }),
    floor: fc.constantFrom(4 * KiB, 64 * KiB, MiB),
    limit: fc.constantFrom(NO_LIMIT, 2 ** 32 - 1, 2 ** 30 - 1, 300 * MiB - 1, 800 * MiB - 1),
    alignment: fc.constantFrom(4 * KiB, 64 * KiB, 2 * MiB),
  }),
  fc.record({ kind: fc.constant('free' as const), index: fc.nat() }),
);

fcTest.prop([fc.array(op, { maxLength: 25 })], { numRuns: 40 })(
  'random allocate/free sequences never hand out overlapping memory, fail without a trace, and freeing all restores every allocator',
  (ops) => {
    const p = new Platform();
    const heaps = defaultHeaps(p).list();
    const region = p.defaultCma as NonNullable<typeof p.defaultCma>;
    const carveout = p.carveouts.get('carveout') as NonNullable<ReturnType<typeof p.carveouts.get>>;
    const state = () => [
      p.pages.freePageCount(),
      p.pages.buddyInfo(),
      region.usedPages,
      carveout.availableBytes,
    ];
    const start = state();
    const live: Backing[] = [];
    for (const o of ops) {
      if (o.kind === 'free') {
        if (live.length === 0) continue;
        const [b] = live.splice(o.index % live.length, 1);
        unwrap((b as Backing).free());
        continue;
      }
      const heap = heaps[o.heap] as (typeof heaps)[number];
      const before = state();
      const plan = planFor(heap, o.pages * PAGE_SIZE, {
        chunkFloor: o.floor,
        maxAddress: o.limit,
        alignment: o.alignment,
      });
      const r = heap.allocate(plan);
      if (E.isLeft(r)) {
        expect(r.left.code).toBe('ENOMEM');
        expect(state()).toEqual(before);
        continue;
      }
      const b = r.right;
      expect(b.runs.reduce((n, x) => n + x.length, 0)).toBe(plan.size);
      for (const run of b.runs) {
        expect(run.phys + run.length - 1).toBeLessThanOrEqual(o.limit);
        if (heap.physicallyContiguous) expect(run.phys % o.alignment).toBe(0);
        else expect(run.phys % o.floor).toBe(0);
      }
      const sizes = b.runs.map((x) => x.length);
      expect(sizes.slice(0, -1).every((s, i) => s >= (sizes[i + 1] as number))).toBe(true);
      live.push(b);
      expect(noOverlap(live)).toBe(true);
    }
    for (const b of live) unwrap(b.free());
    expect(state()).toEqual(start);
  },
);

const reserved = (pfn: number): boolean =>
  [...SMALL.cma, ...SMALL.carveouts].some(
    (r) => pfn >= r.base / PAGE_SIZE && pfn < (r.base + r.size) / PAGE_SIZE,
  );

fcTest.prop(
  [
    fc.array(fc.record({ order: fc.integer({ min: 0, max: MAX_PAGE_ORDER }), keep: fc.boolean() }), {
      maxLength: 60,
    }),
    fc.array(fc.integer({ min: 0, max: 32 * MiB }), { minLength: 1, maxLength: 6 }),
  ],
  { numRuns: 60 },
)(
  'system heap capabilities equal a page-by-page count of the buddy allocator under any limit',
  (allocs, limits) => {
    const p = new Platform(SMALL);
    const system = defaultHeaps(p).list()[0] as HeapCapabilities;
    for (const a of allocs) {
      const pfn = p.pages.tryAllocPages(a.order);
      if (pfn >= 0 && !a.keep) unwrap(p.pages.freePages(pfn, a.order));
    }
    const map = freeMap(p, 0, (32 * MiB) / PAGE_SIZE, (pfn) => !reserved(pfn));
    for (const l of limits) {
      const limit = l - 1;
      expect(system.freeBytes(limit)).toBe(bruteFreeBytes(map, 0, limit));
      for (const chunk of [4 * KiB, 64 * KiB, MiB, 4 * MiB, 8 * MiB]) {
        expect(system.freeChunks(chunk, limit)).toBe(bruteChunks(map, 0, chunk, limit));
      }
      const offered = [MiB, 64 * KiB, 4 * KiB].find((c) => bruteChunks(map, 0, c, limit) > 0) ?? 0;
      expect(system.largestContiguousFree(limit)).toBe(offered);
    }
  },
);

const contiguousOp = fc.oneof(
  fc.record({
    kind: fc.constantFrom('heap' as const, 'foreign' as const),
    pages: fc.integer({ min: 1, max: 300 }),
    alignment: fc.constantFrom(4 * KiB, 16 * KiB, 64 * KiB, MiB),
  }),
  fc.record({ kind: fc.constant('free' as const), index: fc.nat() }),
);

fcTest.prop(
  [
    fc.array(contiguousOp, { maxLength: 30 }),
    fc.array(fc.integer({ min: 8 * MiB, max: 23 * MiB }), { minLength: 1, maxLength: 4 }),
  ],
  {
    numRuns: 60,
  },
)(
  'CMA and carveout heap capabilities are exact: the CMA heap also when others allocate from its region',
  (ops, limits) => {
    const p = new Platform(SMALL);
    const [, cma, carve] = defaultHeaps(p).list() as [
      HeapCapabilities,
      ...ReturnType<ReturnType<typeof defaultHeaps>['list']>,
    ];
    const region = p.defaultCma as NonNullable<typeof p.defaultCma>;
    const carveOwned: Backing[] = [];
    const frees: (() => void)[] = [];
    for (const o of ops) {
      if (o.kind === 'free') {
        if (frees.length > 0) frees.splice(o.index % frees.length, 1)[0]?.();
        continue;
      }
      const size = o.pages * PAGE_SIZE;
      if (o.kind === 'foreign') {
        const pfn = region.alloc(o.pages, 0);
        if (E.isRight(pfn)) frees.push(() => unwrap(region.release(pfn.right, o.pages)));
        continue;
      }
      for (const heap of [cma, carve]) {
        const b = heap?.allocate(
          planFor(heap, size, { chunkFloor: 0, maxAddress: NO_LIMIT, alignment: o.alignment }),
        );
        if (b !== undefined && E.isRight(b)) {
          if (heap === carve) carveOwned.push(b.right);
          frees.push(() => unwrap(b.right.free()));
        }
      }
    }
    const cmaMap = freeMap(p, region.basePfn, region.pageCount, () => true);
    const carveMap = new Uint8Array((2 * MiB) / PAGE_SIZE).fill(1);
    for (const b of carveOwned.filter((x) => !x.freed)) {
      for (const r of b.runs)
        carveMap.fill(0, (r.phys - 20 * MiB) / PAGE_SIZE, (r.phys + r.length - 20 * MiB) / PAGE_SIZE);
    }
    const checks: [HeapCapabilities | undefined, Uint8Array, number][] = [
      [cma, cmaMap, region.basePfn],
      [carve, carveMap, (20 * MiB) / PAGE_SIZE],
    ];
    for (const [heap, map, base] of checks) {
      for (const l of limits) {
        const limit = l - 1;
        expect(heap?.freeBytes(limit)).toBe(bruteFreeBytes(map, base, limit));
        for (const align of [4 * KiB, 64 * KiB, MiB]) {
          expect(heap?.largestContiguousFree(limit, align)).toBe(bruteLargest(map, base, align, limit));
          expect(heap?.freeChunks(align, limit)).toBe(bruteChunks(map, base, align, limit));
        }
      }
    }
  },
);
