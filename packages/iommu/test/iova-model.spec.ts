/**
 * Model-based properties of the IOVA allocator: whatever mix of allocations (plain, fast, fixed),
 * frees and reservations runs, ranges never overlap, every allocation honours its size, alignment
 * and limit and lands on free space, a refused call changes nothing its caller can see, and freeing
 * everything gives back the whole space.
 */
import { fc, test as fcTest } from '@fast-check/vitest';
import * as E from 'fp-ts/lib/Either.js';
import { expect } from 'vitest';
import { IovaDomain, type IovaRange, type IovaTreeLayout } from '../src/iova/index.js';

/** A range the test holds, and how it must be given back. */
interface Held {
  readonly pfn: number;
  readonly size: number;
  readonly fast: boolean;
}

type Op =
  | { kind: 'alloc'; size: number; limit: number; aligned: boolean }
  | { kind: 'fast'; size: number; limit: number; flush: boolean }
  | { kind: 'at'; pfn: number; size: number }
  | { kind: 'free'; pick: number }
  | { kind: 'reserve'; pfn: number; size: number }
  | { kind: 'stray'; pfn: number };

/** Granule 2^24: the 32-bit boundary is pfn 256, so limits around it fill and refuse often. */
const GRANULE = 2 ** 24;
const DMA32 = 256;

const limitArb = fc.oneof(fc.integer({ min: 0, max: 3 * DMA32 }), fc.constantFrom(DMA32 - 1, DMA32, 2 ** 30));
const sizeArb = fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 80 }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      size: sizeArb,
      limit: limitArb,
      aligned: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('fast' as const),
      size: sizeArb,
      limit: limitArb,
      flush: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('at' as const),
      pfn: fc.integer({ min: 0, max: 3 * DMA32 }),
      size: sizeArb,
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      pfn: fc.integer({ min: 0, max: 3 * DMA32 }),
      size: sizeArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('stray' as const),
      pfn: fc.integer({ min: 0, max: 3 * DMA32 }),
    }),
  },
);

const layoutArb: fc.Arbitrary<IovaTreeLayout> = fc.constantFrom(
  { blockEntries: 32, groupBlocks: 64 },
  { blockEntries: 2, groupBlocks: 2 },
  { blockEntries: 4, groupBlocks: 4 },
);

const roundup = (n: number): number => 2 ** Math.ceil(Math.log2(n));

const live = (d: IovaDomain): IovaRange[] => d.ranges().filter((r) => !r.inRcache);

const overlapsAny = (ranges: readonly IovaRange[], lo: number, hi: number): boolean =>
  ranges.some((r) => r.pfnLo <= hi && r.pfnHi >= lo);

const expectDisjoint = (ranges: readonly IovaRange[]): void => {
  for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.pfnLo).toBeGreaterThan(ranges[i - 1]!.pfnHi);
};

/** Runs one operation and checks what it promises, updating the ranges the test holds. */
const step = (d: IovaDomain, held: Held[], op: Op): void => {
  const before = d.ranges();
  const liveBefore = live(d);
  if (op.kind === 'alloc' || op.kind === 'fast') {
    const fast = op.kind === 'fast';
    const r = fast
      ? d.allocIovaFast(op.size, op.limit, op.flush)
      : d.allocIova(op.size, op.limit, op.aligned);
    if (E.isLeft(r)) {
      expect(r.left.code).toBe('ENOMEM');
      expect(live(d)).toEqual(liveBefore);
      if (!fast || !op.flush) expect(d.ranges()).toEqual(before);
      return;
    }
    const pfn = r.right;
    const size = fast && op.size < 32 ? roundup(op.size) : op.size;
    const aligned = fast || op.aligned;
    expect(pfn).toBeGreaterThanOrEqual(d.startPfn);
    expect(pfn + size - 1).toBeLessThanOrEqual(op.limit);
    if (aligned) expect(pfn % roundup(size)).toBe(0);
    expect(d.findIova(pfn)).toEqual({ pfnLo: pfn, pfnHi: pfn + size - 1, inRcache: false });
    // A fast allocation may reuse a parked range whole; a flushing one may also reuse flushed space.
    const reused = fast && before.some((b) => b.inRcache && b.pfnLo === pfn && b.pfnHi === pfn + size - 1);
    if (!reused) expect(overlapsAny(fast && op.flush ? liveBefore : before, pfn, pfn + size - 1)).toBe(false);
    held.push({ pfn, size: fast ? op.size : size, fast });
  } else if (op.kind === 'at') {
    const r = d.allocIovaAt(op.pfn, op.size);
    if (E.isLeft(r)) {
      expect(['EEXIST', 'EINVAL']).toContain(r.left.code);
      expect(d.ranges()).toEqual(before);
      return;
    }
    expect(overlapsAny(liveBefore, op.pfn, op.pfn + op.size - 1)).toBe(false);
    held.push({ pfn: op.pfn, size: op.size, fast: false });
  } else if (op.kind === 'free') {
    if (held.length === 0) return;
    const i = op.pick % held.length;
    const h = held[i]!;
    held[i] = held[held.length - 1]!;
    held.pop();
    const r = h.fast ? d.freeIovaFast(h.pfn, h.size) : d.freeIova(h.pfn);
    // A reservation may have grown the range under the pfn; a fast free then no longer matches it.
    if (E.isLeft(r)) expect(d.ranges()).toEqual(before);
    else expect(live(d).some((x) => x.pfnLo <= h.pfn && h.pfn <= x.pfnHi)).toBe(false);
  } else if (op.kind === 'reserve') {
    const r = d.reserveIova(op.pfn, op.pfn + op.size - 1);
    expect(E.isRight(r)).toBe(true);
    for (let p = op.pfn; p < op.pfn + op.size; p++) expect(d.findIova(p)).toBeDefined();
  } else {
    const known = d.findIova(op.pfn);
    const r = d.freeIova(op.pfn);
    if (known === undefined || known.inRcache) {
      expect(E.isLeft(r) && r.left.code).toBe('ENOENT');
      expect(d.ranges()).toEqual(before);
    } else {
      held.splice(0, held.length, ...held.filter((h) => h.pfn < known.pfnLo || h.pfn > known.pfnHi));
    }
  }
  expectDisjoint(d.ranges());
};

fcTest.prop(
  [fc.constantFrom(0, 1, 5), layoutArb, fc.array(opArb, { minLength: 1, maxLength: 150, size: 'max' })],
  { numRuns: 100 },
)(
  'ranges never overlap, allocations keep their promises, refusals change nothing, and freeing all restores the space',
  (startPfn, layout, ops) => {
    const d = new IovaDomain(GRANULE, startPfn, layout);
    const held: Held[] = [];
    for (const op of ops) step(d, held, op);
    for (const r of live(d)) expect(E.isRight(d.freeIova(r.pfnLo))).toBe(true);
    d.flushRcaches();
    expect(d.ranges()).toEqual([]);
    expect(d.rangeCount).toBe(0);
    expect(d.largestFreeRange(d.maxPfn)).toBe(d.maxPfn + 1 - startPfn);
  },
);
