import { fc, test as fcTest } from '@fast-check/vitest';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  type AttacherConstraints,
  type AttachmentPath,
  type BackingPlan,
  type ConflictCertificate,
  combineConstraints,
  countSplit,
  type DmaSegment,
  describeHeap,
  type FreeRange,
  type HeapCapabilities,
  KiB,
  MiB,
  NO_LIMIT,
  type PlanOptions,
  placePlan,
  planBacking,
  pow2Ceil,
  satisfies,
  segmentsForAttachment,
  splitInto,
  unconstrainedAttacher,
  worstCaseSplit,
} from '../src/constraints/index.js';

const dev = (name: string, over: Partial<AttacherConstraints> = {}): AttacherConstraints => ({
  ...unconstrainedAttacher(name),
  ...over,
});

describe('segment splitting (lib/scatterlist.c, drivers/iommu/dma-iommu.c __finalise_sg)', () => {
  it('a range is cut at each boundary window and into pieces of at most the segment size', () => {
    expect(countSplit(0, MiB, 64 * KiB, NO_LIMIT + 1)).toBe(16);
    expect(countSplit(0x8000, 64 * KiB, NO_LIMIT, 64 * KiB)).toBe(2);
    expect(countSplit(0, 200 * KiB, 96 * KiB, 128 * KiB)).toBe(3); // 96 + 32 | 72
    const out: DmaSegment[] = [];
    splitInto(0, 200 * KiB, 96 * KiB, 128 * KiB, out);
    expect(out.map((s) => s.length / KiB)).toEqual([96, 32, 72]);
  });

  const pow2 = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map((k) => 2 ** k);

  fcTest.prop([
    fc.nat({ max: 2 ** 40 }),
    fc.integer({ min: 1, max: 16 * MiB }),
    fc.integer({ min: 4 * KiB, max: 4 * MiB }),
    pow2(12, 53),
  ])(
    'countSplit counts exactly the pieces splitInto makes, none too long or crossing a window',
    (start, length, maxPiece, window) => {
      const out: DmaSegment[] = [];
      splitInto(start, length, maxPiece, window, out);
      expect(out.length).toBe(countSplit(start, length, maxPiece, window));
      expect(out.reduce((n, s) => n + s.length, 0)).toBe(length);
      for (const s of out) {
        expect(s.length).toBeLessThanOrEqual(maxPiece);
        expect(Math.floor(s.dmaAddress / window)).toBe(Math.floor((s.dmaAddress + s.length - 1) / window));
      }
    },
  );

  fcTest.prop([
    fc.nat({ max: 2 ** 20 }),
    fc.integer({ min: 1, max: 64 * MiB }),
    fc.integer({ min: 1, max: 4 * MiB }),
    pow2(12, 33),
    pow2(12, 30),
  ])(
    'worstCaseSplit bounds the split of every aligned placement',
    (slot, length, maxPiece, window, align) => {
      const start = slot * align;
      const limit = 2 ** 40;
      expect(countSplit(start, length, maxPiece, window)).toBeLessThanOrEqual(
        worstCaseSplit(length, align, maxPiece, window, limit),
      );
    },
  );
});

describe('satisfies (a device segment list against its constraints)', () => {
  const c = dev('d', {
    maxSegmentSize: 64 * KiB,
    maxSegmentCount: 4,
    segmentBoundaryMask: 0xffff,
    dmaLimit: 0xffffffff,
    alignment: 4096,
  });
  const seg = (dmaAddress: number, length: number): DmaSegment => ({ dmaAddress, length });

  it('accepts a list within every limit', () => {
    expect(satisfies([seg(0x10000, 0x10000), seg(0x30000, 0x8000)], c)).toEqual({ ok: true });
  });

  it('names the field each violation breaks', () => {
    const field = (segs: DmaSegment[], cc = c) => {
      const r = satisfies(segs, cc);
      return r.ok ? 'ok' : r.field;
    };
    expect(field(Array.from({ length: 5 }, (_, i) => seg(i * 0x10000, 0x1000)))).toBe('maxSegmentCount');
    expect(field([seg(0, 0x10001)], { ...c, segmentBoundaryMask: NO_LIMIT })).toBe('maxSegmentSize');
    expect(field([seg(0x8000, 0x10000)])).toBe('segmentBoundary');
    expect(field([seg(0xffff0000, 0x10000), seg(0x1_0000_0000, 0x1000)])).toBe('dmaLimit');
    expect(field([seg(0x800, 0x800)])).toBe('alignment');
    expect(field([seg(0, 0x1000), seg(0x3000, 0x1000)], { ...c, needsContiguousDma: true })).toBe(
      'contiguity',
    );
    expect(field([])).toBe('size');
  });
});

const weighted = <T>(...choices: [T, number][]) =>
  fc.oneof(...choices.map(([v, weight]) => ({ arbitrary: fc.constant(v), weight })));

const arbAttacher = fc
  .record({
    maxSegmentSize: fc.constantFrom(4096, 65535, 65536, MiB, 0xffffffff, 0xffffffff, NO_LIMIT, NO_LIMIT),
    maxSegmentCount: weighted<number>([Number.POSITIVE_INFINITY, 6], [1, 1], [16, 1], [128, 1], [1024, 1]),
    segmentBoundaryMask: fc.constantFrom(0xffff, 0xfffff, 0xffffff, 0xffffffff, NO_LIMIT, NO_LIMIT),
    dmaLimit: fc.constantFrom(0x3fffffff, 0xddc00000, 0xffffffff, 2 ** 36 - 1, NO_LIMIT),
    alignment: fc.constantFrom(1, 4096, 65536, MiB, 2 * MiB),
    needsContiguousDma: weighted([false, 5], [true, 1]),
    behindIommu: fc.boolean(),
    coherent: fc.boolean(),
    acceptsBounce: fc.boolean(),
    heaps: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 8 },
      { arbitrary: fc.subarray(['system', 'cma', 'carveout'], { minLength: 1 }), weight: 1 },
    ),
    prot: weighted<boolean | undefined>([undefined, 18], [true, 1], [false, 1]),
  })
  .map(({ heaps, prot, ...r }) => ({
    ...r,
    ...(heaps === undefined ? {} : { permittedHeaps: heaps }),
    ...(prot === undefined ? {} : { protected: prot }),
  }));

const arbAttachers = fc
  .array(arbAttacher, { maxLength: 6 })
  .map((xs) => xs.map((x, i): AttacherConstraints => ({ ...unconstrainedAttacher(`dev${i}`), ...x })));

/** Free ranges in `slots` equal slots of a region, at offsets and lengths in a random unit. */
const arbFree = (base: number, size: number, slots: number) => {
  const fraction = fc.integer({ min: 0, max: 1000 }).map((n) => n / 1001);
  const unit = fc.constantFrom(4 * KiB, 64 * KiB, MiB);
  return fc
    .array(fc.tuple(fraction, fraction, fc.boolean(), unit), { minLength: slots, maxLength: slots })
    .map((ts) =>
      ts.flatMap(([a, b, on, unit], i): FreeRange[] => {
        const units = size / slots / unit;
        const start = Math.floor(a * units);
        const len = 1 + Math.floor(b * (units - start));
        return on
          ? [{ base: base + i * (size / slots) + start * unit, size: Math.min(len, units - start) * unit }]
          : [];
      }),
    );
};

interface Machine {
  readonly heaps: HeapCapabilities[];
  readonly free: ReadonlyMap<string, FreeRange[]>;
}

const SYSTEM_REGION = { base: 0, size: 8 * 1024 * MiB };
const CMA_REGION = { base: 0x3000_0000, size: 128 * MiB };
const CARVEOUT_REGION = { base: 0x3800_0000, size: 64 * MiB };

const arbMachine: fc.Arbitrary<Machine> = fc
  .record({
    system: fc.option(arbFree(SYSTEM_REGION.base, SYSTEM_REGION.size, 16), { nil: undefined, freq: 5 }),
    cma: fc.option(arbFree(CMA_REGION.base, CMA_REGION.size, 4), { nil: undefined, freq: 5 }),
    carveout: fc.option(arbFree(CARVEOUT_REGION.base, CARVEOUT_REGION.size, 2), { nil: undefined, freq: 3 }),
  })
  .map((m) => {
    const heaps: HeapCapabilities[] = [];
    const free = new Map<string, FreeRange[]>();
    const add = (name: 'system' | 'cma' | 'carveout', region: FreeRange, ranges: FreeRange[] | undefined) => {
      if (ranges === undefined) return;
      heaps.push(describeHeap({ name, kind: name, free: ranges, region }));
      free.set(name, ranges);
    };
    add('system', SYSTEM_REGION, m.system);
    add('cma', CMA_REGION, m.cma);
    add('carveout', CARVEOUT_REGION, m.carveout);
    return { heaps, free };
  });

const arbSize = fc.oneof(
  fc.constantFrom(4 * KiB, 64 * KiB, MiB, MiB + MiB / 2, 4 * MiB, 8 * MiB, 12 * MiB, 32 * MiB),
  fc.integer({ min: 1, max: 24 * MiB }),
);

const POOL_BASE = 0x0800_0000;
const arbOptions: fc.Arbitrary<PlanOptions> = fc.constantFrom<PlanOptions>(
  {},
  { bouncePool: { bytes: 64 * MiB, maxAddress: POOL_BASE + 64 * MiB - 1 } },
);

const pathFor = (plan: BackingPlan, c: AttacherConstraints): AttachmentPath => {
  const path = plan.attachers.find((a) => a.attacher === c.attacher)?.path;
  if (path === 'iommu') return { kind: 'iommu', iova: c.dmaBase + alignIova(plan, c) };
  return path === 'bounce' ? { kind: 'bounce', poolAddress: POOL_BASE } : { kind: 'direct' };
};

/** Where the IOMMU layer puts the range: naturally aligned (iova.c size_aligned), at least as aligned as the device asks. */
const alignIova = (plan: BackingPlan, c: AttacherConstraints): number => {
  const align = Math.max(pow2Ceil(plan.size), c.alignment);
  return Math.ceil(c.dmaBase / align) * align - c.dmaBase;
};

const plan = (cs: AttacherConstraints[], m: Machine, size: number, opts: PlanOptions) =>
  planBacking(size, combineConstraints(cs), m.heaps, opts);

const conflictKey = (code: string, cert: ConflictCertificate) =>
  `${code}:${cert.field}:${JSON.stringify(cert.combined)}`;

describe('planning properties', () => {
  fcTest.prop([arbAttachers, arbMachine, arbSize, arbOptions], { numRuns: 300 })(
    'every plan fits its heap and gives every attacher a segment list it accepts',
    (cs, m, size, opts) => {
      const r = plan(cs, m, size, opts);
      if (E.isLeft(r)) return;
      const p = r.right;
      const runs = placePlan(p, m.free.get(p.heap) ?? []);
      expect(runs).toBeDefined();
      if (runs === undefined) return;
      expect(runs.reduce((n, x) => n + x.length, 0)).toBe(p.size);
      expect((runs[0]?.phys ?? 0) % p.alignment).toBe(0);
      for (const c of cs) {
        const att = p.attachers.find((a) => a.attacher === c.attacher);
        const segs = segmentsForAttachment(runs, c, pathFor(p, c));
        expect(satisfies(segs, c)).toEqual({ ok: true });
        expect(segs.length).toBeLessThanOrEqual(att?.segments ?? 0);
        if (att?.exact === true && att.path !== 'bounce') expect(segs.length).toBe(att.segments);
      }
    },
  );

  fcTest.prop([arbAttachers, arbMachine, arbSize, arbOptions], { numRuns: 300 })(
    'a certificate names a real conflict: what it needs is not available, and without its imposers it goes away',
    (cs, m, size, opts) => {
      const r = plan(cs, m, size, opts);
      if (E.isRight(r)) return;
      const cert = r.left.detail.certificate as ConflictCertificate;
      expect(['ENOMEM', 'EINVAL']).toContain(r.left.code);
      expect(r.left.message).toBe(cert.message);
      if (typeof cert.required === 'number' && typeof cert.available === 'number') {
        expect(cert.available).toBeLessThan(cert.required);
      }
      const names = new Set(cert.imposedBy.map((i) => i.attacher));
      for (const n of names) expect(cs.some((c) => c.attacher === n)).toBe(true);
      if (names.size === 0) return;
      const again = plan(
        cs.filter((c) => !names.has(c.attacher)),
        m,
        size,
        opts,
      );
      if (E.isLeft(again)) {
        const next = again.left.detail.certificate as ConflictCertificate;
        expect(conflictKey(again.left.code, next)).not.toBe(conflictKey(r.left.code, cert));
      }
    },
  );
});
