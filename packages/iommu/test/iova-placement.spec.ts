/**
 * Placement equivalence: the model's search against a literal port of Linux's predecessor walk
 * (drivers/iommu/iova.c), kept here as the test oracle. The oracle computes in
 * BigInt so that `unsigned long` wrap-around (`high_pfn - size` below zero, `~0UL` masks) is exact.
 */
import { fc, test as fcTest } from '@fast-check/vitest';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { IOVA_ALLOC_FAILED, IovaDomain, type IovaTreeLayout } from '../src/iova/index.js';

const ULONG_MAX = (1n << 64n) - 1n;
const IOVA_ANCHOR = ULONG_MAX;

interface LinuxIova {
  lo: bigint;
  hi: bigint;
}

/** Which node `iova_find_limit` lands on: its result depends on the rbtree's shape, so try both. */
type FindLimitVariant = 'straddling' | 'above';

const flsLong = (x: bigint): bigint => BigInt(x === 0n ? 0 : x.toString(2).length);

/** A line-by-line port of the allocation, free and reserve paths of drivers/iommu/iova.c. */
class LinuxIovaDomain {
  /** The rbtree in order, anchor last. */
  readonly nodes: LinuxIova[];
  readonly anchor: LinuxIova = { lo: IOVA_ANCHOR, hi: IOVA_ANCHOR };
  cachedNode: LinuxIova;
  cached32Node: LinuxIova;
  readonly dma32BitPfn: bigint;
  max32AllocSize: bigint;

  constructor(
    granule: number,
    readonly startPfn: bigint,
    private readonly variant: FindLimitVariant,
  ) {
    this.nodes = [this.anchor];
    this.cachedNode = this.anchor;
    this.cached32Node = this.anchor;
    this.dma32BitPfn = 1n << BigInt(32 - Math.log2(granule));
    this.max32AllocSize = this.dma32BitPfn;
  }

  private index(node: LinuxIova): number {
    const i = this.nodes.indexOf(node);
    if (i < 0) throw new Error('oracle: node not in tree');
    return i;
  }

  private rbPrev(node: LinuxIova): LinuxIova | null {
    return this.nodes[this.index(node) - 1] ?? null;
  }

  private rbNext(node: LinuxIova): LinuxIova | null {
    return this.nodes[this.index(node) + 1] ?? null;
  }

  private insert(iova: LinuxIova): void {
    let i = 0;
    while (this.nodes[i]!.lo < iova.lo) i++;
    if (this.nodes[i]!.lo === iova.lo) throw new Error('oracle: duplicate pfn_lo');
    this.nodes.splice(i, 0, iova);
  }

  private getCachedRbnode(limitPfn: bigint): LinuxIova {
    return limitPfn <= this.dma32BitPfn ? this.cached32Node : this.cachedNode;
  }

  private cachedRbnodeInsertUpdate(iova: LinuxIova): void {
    if (iova.hi < this.dma32BitPfn) this.cached32Node = iova;
    else this.cachedNode = iova;
  }

  private cachedRbnodeDeleteUpdate(free: LinuxIova): void {
    let cached = this.cached32Node;
    if (free === cached || (free.hi < this.dma32BitPfn && free.lo >= cached.lo)) {
      this.cached32Node = this.rbNext(free)!;
    }
    if (free.lo < this.dma32BitPfn) this.max32AllocSize = this.dma32BitPfn;
    cached = this.cachedNode;
    if (free.lo >= cached.lo) this.cachedNode = this.rbNext(free)!;
  }

  private iovaFindLimit(limitPfn: bigint): LinuxIova {
    if (limitPfn > this.dma32BitPfn) return this.anchor;
    const pick = this.nodes.find((n) =>
      this.variant === 'straddling' ? n.hi >= limitPfn : n.lo >= limitPfn,
    );
    return pick ?? this.anchor;
  }

  /** __alloc_and_insert_iova_range */
  private allocAndInsert(size: bigint, limitPfn: bigint, sizeAligned: boolean): LinuxIova | null {
    let alignMask = ULONG_MAX;
    let highPfn = limitPfn;
    let lowPfn = this.startPfn;
    if (sizeAligned) alignMask = BigInt.asUintN(64, alignMask << flsLong(size - 1n));
    if (limitPfn <= this.dma32BitPfn && size >= this.max32AllocSize) return null;
    let curr: LinuxIova | null = this.getCachedRbnode(limitPfn);
    let currIova: LinuxIova | null = curr;
    const retryPfn = curr.hi;
    let newPfn: bigint;
    for (;;) {
      do {
        // biome-ignore lint/complexity/useMathMinMax: these are bigints, which Math.min refuses.
        highPfn = highPfn < currIova!.lo ? highPfn : currIova!.lo;
        newPfn = BigInt.asUintN(64, highPfn - size) & alignMask;
        curr = this.rbPrev(curr!);
        currIova = curr;
      } while (curr && newPfn <= currIova!.hi && newPfn >= lowPfn);
      if (highPfn < size || newPfn < lowPfn) {
        if (lowPfn === this.startPfn && retryPfn < limitPfn) {
          highPfn = limitPfn;
          lowPfn = retryPfn + 1n;
          curr = this.iovaFindLimit(limitPfn);
          currIova = curr;
          continue;
        }
        this.max32AllocSize = size;
        return null;
      }
      break;
    }
    const iova = { lo: newPfn, hi: newPfn + size - 1n };
    this.insert(iova);
    this.cachedRbnodeInsertUpdate(iova);
    return iova;
  }

  allocIova(size: number, limitPfn: number, sizeAligned: boolean): number {
    const iova = this.allocAndInsert(BigInt(size), BigInt(limitPfn) + 1n, sizeAligned);
    return iova === null ? IOVA_ALLOC_FAILED : Number(iova.lo);
  }

  freeIova(pfn: number): boolean {
    const p = BigInt(pfn);
    const iova = this.nodes.find((n) => n !== this.anchor && n.lo <= p && p <= n.hi);
    if (iova === undefined) return false;
    this.cachedRbnodeDeleteUpdate(iova);
    this.nodes.splice(this.index(iova), 1);
    return true;
  }

  reserveIova(pfnLoIn: number, pfnHiIn: number): { lo: number; hi: number } {
    let pfnLo = BigInt(pfnLoIn);
    const pfnHi = BigInt(pfnHiIn);
    let overlap = false;
    for (let node: LinuxIova | null = this.nodes[0]!; node; node = this.rbNext(node)) {
      if (pfnLo <= node.hi && pfnHi >= node.lo) {
        if (pfnLo < node.lo) node.lo = pfnLo;
        if (pfnHi > node.hi) pfnLo = node.hi + 1n;
        if (pfnLo >= node.lo && pfnHi <= node.hi) return { lo: Number(node.lo), hi: Number(node.hi) };
        overlap = true;
      } else if (overlap) {
        break;
      }
    }
    const iova = { lo: pfnLo, hi: pfnHi };
    this.insert(iova);
    return { lo: Number(iova.lo), hi: Number(iova.hi) };
  }

  ranges(): { pfnLo: number; pfnHi: number }[] {
    return this.nodes
      .filter((n) => n !== this.anchor)
      .map((n) => ({ pfnLo: Number(n.lo), pfnHi: Number(n.hi) }));
  }
}

type Op =
  | { kind: 'alloc'; size: number; limit: number; aligned: boolean }
  | { kind: 'free'; pick: number }
  | { kind: 'reserve'; lo: number; len: number };

/** Granules chosen so the 32-bit boundary sits at pfn 1024, 256 or 64: small enough to fill. */
const GRANULES = [2 ** 22, 2 ** 24, 2 ** 26];

/**
 * Range-store layouts: the default, and tiny blocks and groups so that a few hundred operations
 * split, merge and regroup blocks many times over.
 */
const LAYOUTS: readonly IovaTreeLayout[] = [
  { blockEntries: 32, groupBlocks: 64 },
  { blockEntries: 2, groupBlocks: 2 },
  { blockEntries: 4, groupBlocks: 2 },
  { blockEntries: 8, groupBlocks: 4 },
];

const opArb = (dma32: number): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('alloc' as const),
        size: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 70 })),
        limit: fc.oneof(
          fc.integer({ min: 0, max: 3 * dma32 }),
          fc.constantFrom(dma32 - 1, dma32, dma32 - 2, 2 * dma32 - 1, 2 ** 30),
        ),
        aligned: fc.boolean(),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('reserve' as const),
        lo: fc.integer({ min: 0, max: 3 * dma32 }),
        len: fc.integer({ min: 1, max: 40 }),
      }),
    },
  );

const scenarioArb = fc
  .record({
    granule: fc.constantFrom(...GRANULES),
    startPfn: fc.constantFrom(0, 1, 3, 17),
    layout: fc.constantFrom(...LAYOUTS),
  })
  .chain(({ granule, startPfn, layout }) =>
    fc.record({
      granule: fc.constant(granule),
      startPfn: fc.constant(startPfn),
      layout: fc.constant(layout),
      ops: fc.array(opArb(2 ** (32 - Math.log2(granule))), { minLength: 1, maxLength: 400, size: 'max' }),
    }),
  );

/** Replays `ops` on the model and on the oracle, checking every step. */
const replay = (granule: number, startPfn: number, layout: IovaTreeLayout, ops: readonly Op[]): void => {
  const model = new IovaDomain(granule, startPfn, layout);
  const linux = new LinuxIovaDomain(granule, BigInt(startPfn), 'straddling');
  const live: number[] = [];
  for (const op of ops) {
    if (op.kind === 'alloc') {
      const got = model.allocIovaPfn(op.size, op.limit, op.aligned);
      const want = linux.allocIova(op.size, op.limit, op.aligned);
      expect(got, `alloc ${JSON.stringify(op)}`).toBe(want);
      if (got !== IOVA_ALLOC_FAILED) live.push(got);
    } else if (op.kind === 'free') {
      if (live.length === 0) continue;
      const i = op.pick % live.length;
      const pfn = live[i]!;
      live[i] = live[live.length - 1]!;
      live.pop();
      const known = linux.freeIova(pfn);
      expect(E.isRight(model.freeIova(pfn))).toBe(known);
    } else {
      const got = model.reserveIova(op.lo, op.lo + op.len - 1);
      const want = linux.reserveIova(op.lo, op.lo + op.len - 1);
      expect(E.isRight(got) && { lo: got.right.pfnLo, hi: got.right.pfnHi }).toEqual(want);
    }
    expect(model.max32AllocSize).toBe(Number(linux.max32AllocSize));
  }
  expect(model.ranges().map(({ pfnLo, pfnHi }) => ({ pfnLo, pfnHi }))).toEqual(linux.ranges());
};

describe('IOVA placement equals Linux (drivers/iommu/iova.c)', () => {
  // iova_find_limit returns either a node straddling the limit or the one after it, depending on the
  // rbtree's shape; both start the retry walk at the same place. Checked here so that the oracle
  // stands for Linux whatever the shape.
  fcTest.prop([scenarioArb], { numRuns: 60 })(
    'the oracle is indifferent to which node iova_find_limit lands on',
    ({ granule, startPfn, ops }) => {
      const a = new LinuxIovaDomain(granule, BigInt(startPfn), 'straddling');
      const b = new LinuxIovaDomain(granule, BigInt(startPfn), 'above');
      const live: number[] = [];
      for (const op of ops) {
        if (op.kind === 'alloc') {
          const pa = a.allocIova(op.size, op.limit, op.aligned);
          expect(b.allocIova(op.size, op.limit, op.aligned)).toBe(pa);
          if (pa !== IOVA_ALLOC_FAILED) live.push(pa);
        } else if (op.kind === 'free' && live.length > 0) {
          const pfn = live.splice(op.pick % live.length, 1)[0]!;
          expect(b.freeIova(pfn)).toBe(a.freeIova(pfn));
        } else if (op.kind === 'reserve') {
          expect(b.reserveIova(op.lo, op.lo + op.len - 1)).toEqual(a.reserveIova(op.lo, op.lo + op.len - 1));
        }
      }
    },
  );

  fcTest.prop([scenarioArb], { numRuns: 150 })(
    'every allocation lands where the ported Linux walk puts it, with the same max32_alloc_size',
    ({ granule, startPfn, layout, ops }) => {
      replay(granule, startPfn, layout, ops);
    },
  );

  it('long churn at the 32-bit boundary with 4 KiB granules matches the walk', () => {
    // The bench's own shape, scaled down: size-aligned allocations of 1..64 pages below 2^20 with
    // random frees, long enough for the cached node to wrap around and the retry to run.
    const granule = 4096;
    const model = new IovaDomain(granule, 1);
    const linux = new LinuxIovaDomain(granule, 1n, 'straddling');
    let x = 0x1234567;
    const rnd = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x;
    };
    const live: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const size = 1 + (rnd() % 64);
      const limit = rnd() % 4 === 0 ? 2 ** 20 - 1 : 40_000;
      const pfn = model.allocIovaPfn(size, limit, true);
      expect(pfn).toBe(linux.allocIova(size, limit, true));
      if (pfn !== IOVA_ALLOC_FAILED) live.push(pfn);
      if (live.length > 300 || rnd() % 3 === 0) {
        const j = rnd() % live.length;
        const victim = live[j]!;
        live[j] = live[live.length - 1]!;
        live.pop();
        model.freeIova(victim);
        linux.freeIova(victim);
      }
    }
    expect(model.ranges().map(({ pfnLo, pfnHi }) => ({ pfnLo, pfnHi }))).toEqual(linux.ranges());
  });
});
