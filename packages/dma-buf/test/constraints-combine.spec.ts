import { fc, test as fcTest } from '@fast-check/vitest';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  type AttacherConstraints,
  type CombinedConstraints,
  ConstraintSet,
  combineConstraints,
  constraintsFromDevice,
  contiguityNeed,
  describeHeap,
  explainConstraints,
  GiB,
  MiB,
  mergeConstraints,
  NO_LIMIT,
  physicalLimit,
  planBacking,
  segmentLimit,
  unconstrainedAttacher,
} from '../src/constraints/index.js';
import { codec32, codecDdc, display, gpu, parms, sdHost, usbHost } from './device-descriptions.js';

const dev = (name: string, over: Partial<AttacherConstraints> = {}): AttacherConstraints => ({
  ...unconstrainedAttacher(name),
  ...over,
});

describe('attacher constraints from a device', () => {
  it('the DMA limit is the lower of the mask and bus_dma_limit, any value (kernel/dma/direct.h dma_capable)', () => {
    const c = constraintsFromDevice(codecDdc);
    expect(c.dmaLimit).toBe(0xddc00000);
    expect(physicalLimit(c)).toBe(0xddc00000);
    expect(constraintsFromDevice(codec32).dmaLimit).toBe(0xffffffff);
  });

  it('a dma-ranges offset moves the physical limit: phys = dma + offset (include/linux/dma-direct.h translate_dma_to_phys)', () => {
    // A Raspberry Pi 4-like bus: RAM at physical 0 appears at bus 0xc0000000.
    const c = constraintsFromDevice({ ...codec32, name: 'vc4', dmaRangeOffset: -0xc0000000 });
    expect(c.dmaLimit).toBe(0xffffffff);
    expect(physicalLimit(c)).toBe(0x3fffffff);
  });

  it('behind an IOMMU the limit is the IOVA aperture and there is no physical limit (drivers/iommu/dma-iommu.c iommu_dma_alloc_iova)', () => {
    const c = constraintsFromDevice({ ...gpu, needsContiguous: true, dmaRangeOffset: 0x1000_0000 });
    expect(c.dmaLimit).toBe(2 ** 40 - 1);
    expect(c.dmaRangeOffset).toBe(0);
    expect(physicalLimit(c)).toBe(NO_LIMIT);
    expect(contiguityNeed(c, 64 * MiB)).toBe('iova');
  });

  it('unset dma_parms mean 64 KiB segments and no boundary (include/linux/dma-mapping.h dma_get_max_seg_size, dma_get_seg_boundary)', () => {
    const c = constraintsFromDevice({ ...usbHost, dmaParms: parms(0) });
    expect(c.maxSegmentSize).toBe(65536);
    expect(c.segmentBoundaryMask).toBe(NO_LIMIT);
    expect(c.maxSegmentCount).toBe(Number.POSITIVE_INFINITY);
  });

  it('min_align_mask becomes an alignment and caller extras only tighten (include/linux/dma-mapping.h dma_get_min_align_mask)', () => {
    const c = constraintsFromDevice(codec32, {
      alignment: 64 * 1024,
      maxSegmentCount: 4,
      acceptsBounce: false,
    });
    expect(c.alignment).toBe(64 * 1024);
    expect(c.maxSegmentCount).toBe(4);
    expect(c.acceptsBounce).toBe(false);
    expect(constraintsFromDevice(codec32, { alignment: 16 }).alignment).toBe(4096);
    expect(constraintsFromDevice(sdHost, { maxSegmentCount: 1000 }).maxSegmentCount).toBe(128);
  });

  it('malformed descriptions are set-up bugs and throw', () => {
    expect(() => constraintsFromDevice({ ...codec32, dmaParms: parms(4096, 0xfffe) })).toThrow(
      /segmentBoundaryMask/,
    );
    expect(() => constraintsFromDevice({ ...codec32, dmaParms: parms(4096, 0, 0x7ff0) })).toThrow(
      /minAlignMask/,
    );
    expect(() => constraintsFromDevice(codec32, { alignment: 3000 })).toThrow(/alignment/);
    expect(() => constraintsFromDevice({ ...codec32, dmaMaskBits: 0 })).toThrow();
  });

  it('contiguity is judged in the device address space: no IOMMU + one range or too few segments means contiguous pages', () => {
    const sd = constraintsFromDevice(sdHost);
    expect(contiguityNeed(sd, 4 * MiB)).toBe('none'); // 1 MiB chunks: 64 segments of 64 KiB ≤ 128
    expect(contiguityNeed(constraintsFromDevice(sdHost, { maxSegmentCount: 8 }), 4 * MiB)).toBe('physical');
    expect(contiguityNeed(constraintsFromDevice(display), 4096)).toBe('physical');
    expect(contiguityNeed(constraintsFromDevice({ ...gpu, needsContiguous: false }), GiB)).toBe('none');
  });
});

describe('combination rules (RFC "dma-buf: add helpers for sharing attacher constraints", calc_constraints)', () => {
  it('max segment size and count combine by minimum (RFC calc_constraints: min())', () => {
    const c = combineConstraints([
      dev('a', { maxSegmentSize: 65536, maxSegmentCount: 128 }),
      dev('b', { maxSegmentSize: MiB, maxSegmentCount: 16 }),
      dev('c', { maxSegmentSize: 65536 }),
    ]);
    expect(c.maxSegmentSize).toEqual({ value: 65536, imposedBy: ['a', 'c'] });
    expect(c.maxSegmentCount).toEqual({ value: 16, imposedBy: ['b'] });
  });

  it('a device needing one DMA range counts as accepting one segment', () => {
    const c = combineConstraints([dev('a', { maxSegmentCount: 16 }), dev('d', { needsContiguousDma: true })]);
    expect(c.maxSegmentCount).toEqual({ value: 1, imposedBy: ['d'] });
  });

  it('the boundary combines to the finer window, the AND of 2^k−1 masks (RFC calc_constraints: &=)', () => {
    const c = combineConstraints([
      dev('usb', { segmentBoundaryMask: 0xffff }),
      dev('x', { segmentBoundaryMask: 0xffffffff }),
    ]);
    expect(c.segmentBoundaryMask).toEqual({ value: 0xffff, imposedBy: ['usb'] });
    expect(0xffff & 0xffffffff).toBe(0xffff);
  });

  it('the physical limit is the minimum over devices without an IOMMU; IOMMU devices add none', () => {
    const c = combineConstraints([
      dev('codec', { dmaLimit: 0xddc00000 }),
      dev('gpu', { dmaLimit: 0xfffff, behindIommu: true }),
      dev('wide', { dmaLimit: 2 ** 36 - 1 }),
    ]);
    expect(c.physLimit).toEqual({ value: 0xddc00000, imposedBy: ['codec'] });
  });

  it('alignment combines by least common multiple, the max of powers of two; physical alignment skips IOMMU devices', () => {
    const c = combineConstraints([
      dev('a', { alignment: 4096 }),
      dev('b', { alignment: 65536, behindIommu: true }),
      dev('c', { alignment: 16384 }),
    ]);
    expect(c.alignment).toEqual({ value: 65536, imposedBy: ['b'] });
    expect(c.physAlignment).toEqual({ value: 16384, imposedBy: ['c'] });
  });

  it('contiguity ORs, physical for devices without an IOMMU and IOVA for those behind one', () => {
    const c = combineConstraints([
      dev('disp', { needsContiguousDma: true }),
      dev('gpu', { needsContiguousDma: true, behindIommu: true }),
      dev('x'),
    ]);
    expect(c.needsPhysContiguous).toEqual({ value: true, imposedBy: ['disp'] });
    expect(c.needsIovaContiguous).toEqual({ value: true, imposedBy: ['gpu'] });
  });

  it('coherency and bounce acceptance AND, naming the exceptions', () => {
    const c = combineConstraints([
      dev('a'),
      dev('isp', { coherent: false }),
      dev('disp', { acceptsBounce: false }),
    ]);
    expect(c.coherent).toEqual({ value: false, imposedBy: ['isp'] });
    expect(c.acceptsBounce).toEqual({ value: false, imposedBy: ['disp'] });
  });

  it('permitted heaps intersect and protected requirements OR', () => {
    const c = combineConstraints([
      dev('a', { permittedHeaps: ['cma', 'system', 'carveout'] }),
      dev('b', { permittedHeaps: ['carveout', 'cma'], protected: true }),
      dev('c', { protected: false }),
    ]);
    expect(c.permittedHeaps).toEqual({ value: ['cma', 'carveout'], imposedBy: ['a', 'b'] });
    expect(c.requiresProtected).toEqual({ value: true, imposedBy: ['b'] });
    expect(c.forbidsProtected).toEqual({ value: true, imposedBy: ['c'] });
  });

  it('unconstrained attachers are neutral and name nobody', () => {
    const c = combineConstraints([dev('a'), dev('b')]);
    expect(c.physLimit).toEqual({ value: NO_LIMIT, imposedBy: [] });
    expect(c.maxSegmentCount).toEqual({ value: Number.POSITIVE_INFINITY, imposedBy: [] });
    expect(c.alignment).toEqual({ value: 1, imposedBy: [] });
    expect(c.permittedHeaps).toEqual({ value: null, imposedBy: [] });
  });

  it('five real devices combine to the strictest of each field', () => {
    const c = combineConstraints(
      [sdHost, usbHost, codec32, codecDdc, display].map((d) => constraintsFromDevice(d)),
    );
    expect(c.physLimit).toEqual({ value: 0x3fffffff, imposedBy: ['display0'] });
    expect(c.maxSegmentSize).toEqual({ value: 65536, imposedBy: ['sd0', 'usb0'] });
    expect(c.maxSegmentCount).toEqual({ value: 1, imposedBy: ['display0'] });
    expect(c.segmentBoundaryMask).toEqual({ value: 0xffff, imposedBy: ['usb0'] });
    expect(c.alignment).toEqual({ value: 4096, imposedBy: ['codec32'] });
    expect(c.needsPhysContiguous).toEqual({ value: true, imposedBy: ['display0'] });
    expect(c.coherent).toEqual({ value: false, imposedBy: ['sd0', 'display0'] });
    expect(c.acceptsBounce).toEqual({ value: false, imposedBy: ['display0'] });
    const lines = explainConstraints(c);
    expect(lines).toContain(
      'physical placement limit: 0x3fffffff (display0); devices behind an IOMMU add none',
    );
    expect(lines).toContain('segment boundary: 64 KiB windows (usb0)');
    expect(lines).toContain(
      'cache coherency: not coherent (sd0 and display0) — CPU access needs cache maintenance',
    );
    expect(lines).toContain('bounce buffers: refused (display0)');
  });
});

describe('ConstraintSet (incremental attach, RFC recalc_constraints on detach)', () => {
  it('attach folds in; detach recomputes without the detached device', () => {
    const set = new ConstraintSet();
    const sd = constraintsFromDevice(sdHost);
    const disp = constraintsFromDevice(display);
    set.add(sd);
    set.add(disp);
    expect(set.combined.maxSegmentCount.value).toBe(1);
    const before = set.combined;
    expect(set.remove(disp)).toBe(true);
    expect(set.combined.maxSegmentCount).toEqual({ value: 128, imposedBy: ['sd0'] });
    expect(before.maxSegmentCount.value).toBe(1);
    expect(set.remove(disp)).toBe(false);
    expect(set.size).toBe(1);
  });

  it('one attachment object cannot be added twice, but a device may attach twice', () => {
    const set = new ConstraintSet();
    const a = constraintsFromDevice(sdHost);
    set.add(a);
    expect(() => set.add(a)).toThrow(/already attached/);
    set.add(constraintsFromDevice(sdHost));
    expect(set.combined.maxSegmentCount.imposedBy).toEqual(['sd0', 'sd0']);
  });
});

/** Wraps constraints so every field read is counted. */
const counted = (c: AttacherConstraints, reads: { n: number }): AttacherConstraints =>
  new Proxy(c, {
    get(target, key, receiver) {
      reads.n += 1;
      return Reflect.get(target, key, receiver);
    },
  });

const planReadsPerAttacher = (n: number): number => {
  const reads = { n: 0 };
  const list = Array.from({ length: n }, (_, i) =>
    counted(
      dev(`d${i}`, {
        maxSegmentSize: 65536,
        maxSegmentCount: 256,
        dmaLimit: 2 ** 32 + i,
        behindIommu: i % 3 === 0,
      }),
      reads,
    ),
  );
  const heap = describeHeap({ name: 'system', kind: 'system', free: [{ base: 0, size: 64 * MiB }] });
  const r = planBacking(4 * MiB, combineConstraints(list), [heap]);
  expect(E.isRight(r)).toBe(true);
  return reads.n / n;
};

const readsPerAttacher = (n: number, viaSet: boolean): number => {
  const reads = { n: 0 };
  const list = Array.from({ length: n }, (_, i) =>
    counted(dev(`d${i}`, { maxSegmentSize: 4096 * (1 + (i % 7)), dmaLimit: 2 ** 32 + i }), reads),
  );
  if (viaSet) {
    const set = new ConstraintSet();
    for (const c of list) set.add(c);
    void set.combined.physLimit;
  } else combineConstraints(list);
  return reads.n / n;
};

describe('negotiation cost', () => {
  it('combining 1000 attachers is one pass: each attacher is read a constant number of times', () => {
    expect(readsPerAttacher(1000, false)).toBe(readsPerAttacher(10, false));
    expect(readsPerAttacher(1000, true)).toBe(readsPerAttacher(10, true));
    expect(readsPerAttacher(1000, true)).toBeLessThan(40);
  });

  it('planning for 1000 attachers stays linear: each attacher is read a constant number of times', () => {
    // Reads grow as a·n + b: per attacher, 1000 and 2000 attachers cost the same up to the constant b.
    const [r1000, r2000] = [planReadsPerAttacher(1000), planReadsPerAttacher(2000)];
    expect(Math.abs(r1000 - r2000)).toBeLessThan(0.5);
    expect(r1000).toBeLessThan(80);
  });
});

const arbAttacher = fc
  .record({
    maxSegmentSize: fc.constantFrom(4096, 65535, 65536, MiB, 0xffffffff, NO_LIMIT),
    maxSegmentCount: fc.constantFrom(1, 2, 16, 128, Number.POSITIVE_INFINITY),
    segmentBoundaryMask: fc.constantFrom(0xffff, 0xfffff, 0xffffffff, NO_LIMIT),
    dmaLimit: fc.constantFrom(0x3fffffff, 0xddc00000, 0xffffffff, 2 ** 36 - 1, NO_LIMIT),
    alignment: fc.constantFrom(1, 4096, 65536, MiB),
    needsContiguousDma: fc.boolean(),
    behindIommu: fc.boolean(),
    coherent: fc.boolean(),
    acceptsBounce: fc.boolean(),
    heaps: fc.option(fc.subarray(['system', 'cma', 'carveout']), { nil: undefined }),
    prot: fc.constantFrom<boolean | undefined>(undefined, undefined, true, false),
  })
  .map(({ heaps, prot, ...r }) => ({
    ...r,
    ...(heaps === undefined ? {} : { permittedHeaps: heaps }),
    ...(prot === undefined ? {} : { protected: prot }),
  }));

const arbList = fc
  .array(arbAttacher, { maxLength: 12 })
  .map((xs) => xs.map((x, i): AttacherConstraints => ({ ...unconstrainedAttacher(`dev${i}`), ...x })));

/** The combination with attach order forgotten: names sorted, heap intersection as a set. */
const normalize = (c: CombinedConstraints) =>
  Object.fromEntries(
    Object.entries(c).map(([k, v]) => {
      if (k === 'attachers') return [k, (v as AttacherConstraints[]).map((a) => a.attacher).sort()];
      const b = v as { value: unknown; imposedBy: string[] };
      const value = Array.isArray(b.value) ? [...b.value].sort() : b.value;
      return [k, { value, imposedBy: [...b.imposedBy].sort() }];
    }),
  );

describe('combination properties', () => {
  fcTest.prop([
    arbList.chain((xs) => fc.tuple(fc.constant(xs), fc.shuffledSubarray(xs, { minLength: xs.length }))),
  ])('combining is independent of attach order', ([xs, shuffled]) => {
    expect(normalize(combineConstraints(shuffled))).toEqual(normalize(combineConstraints(xs)));
  });

  fcTest.prop([arbList, fc.nat(), fc.nat()])(
    'combining is associative: merging combined parts equals combining the whole',
    (xs, i, j) => {
      const [a, b] = [i % (xs.length + 1), j % (xs.length + 1)].sort((x, y) => x - y) as [number, number];
      const [p, q, r] = [xs.slice(0, a), xs.slice(a, b), xs.slice(b)].map(combineConstraints) as [
        CombinedConstraints,
        CombinedConstraints,
        CombinedConstraints,
      ];
      expect(mergeConstraints(mergeConstraints(p, q), r)).toEqual(combineConstraints(xs));
      expect(mergeConstraints(p, mergeConstraints(q, r))).toEqual(combineConstraints(xs));
    },
  );

  fcTest.prop([arbList.filter((xs) => xs.length > 0), fc.nat()])(
    'detaching then recomputing equals combining without the detached attacher',
    (xs, k) => {
      const set = new ConstraintSet();
      for (const c of xs) set.add(c);
      const gone = xs[k % xs.length] as AttacherConstraints;
      set.remove(gone);
      expect(set.combined).toEqual(combineConstraints(xs.filter((c) => c !== gone)));
    },
  );

  fcTest.prop([arbList])('every field is its rule applied to the attachers', (xs) => {
    const c = combineConstraints(xs);
    const direct = xs.filter((x) => !x.behindIommu);
    const min = (ns: number[], neutral: number) => ns.reduce((m, n) => Math.min(m, n), neutral);
    expect(c.physLimit.value).toBe(min(direct.map(physicalLimit), NO_LIMIT));
    expect(c.maxSegmentSize.value).toBe(
      min(
        xs.map((x) => x.maxSegmentSize),
        NO_LIMIT,
      ),
    );
    expect(c.maxSegmentCount.value).toBe(min(xs.map(segmentLimit), Number.POSITIVE_INFINITY));
    expect(c.segmentBoundaryMask.value).toBe(
      min(
        xs.map((x) => x.segmentBoundaryMask),
        NO_LIMIT,
      ),
    );
    expect(c.alignment.value).toBe(xs.reduce((m, x) => Math.max(m, x.alignment), 1));
    expect(c.needsPhysContiguous.value).toBe(direct.some((x) => x.needsContiguousDma));
    expect(c.coherent.value).toBe(xs.every((x) => x.coherent));
    expect(c.acceptsBounce.value).toBe(xs.every((x) => x.acceptsBounce));
    const lists = xs.flatMap((x) => (x.permittedHeaps === undefined ? [] : [x.permittedHeaps]));
    const inter =
      lists.length === 0
        ? null
        : ['system', 'cma', 'carveout'].filter((h) => lists.every((l) => l.includes(h)));
    expect(c.permittedHeaps.value === null ? null : [...c.permittedHeaps.value].sort()).toEqual(
      inter?.sort() ?? null,
    );
    for (const b of [c.physLimit, c.maxSegmentSize, c.maxSegmentCount, c.alignment]) {
      for (const who of b.imposedBy) expect(xs.some((x) => x.attacher === who)).toBe(true);
    }
  });
});
