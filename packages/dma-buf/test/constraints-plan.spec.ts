import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  type AttacherConstraints,
  type BackingPlan,
  type ConflictCertificate,
  combineConstraints,
  constraintsFromDevice,
  type DeviceDmaDescription,
  describeHeap,
  type FreeRange,
  GiB,
  type HeapCapabilities,
  KiB,
  MiB,
  type PlanOptions,
  placePlan,
  planBacking,
  pow2Ceil,
  satisfies,
  segmentsForAttachment,
  unconstrainedAttacher,
} from '../src/constraints/index.js';
import { codec32, codecDdc, display, gpu, parms, sdHost, usbHost } from './device-descriptions.js';

/** 8 GiB of RAM: a system heap with memory low and high, a 128 MiB CMA area and a 64 MiB carveout, all free. */
const systemFree: FreeRange[] = [
  { base: 0x1000_0000, size: 512 * MiB },
  { base: 0x8000_0000, size: 2 * GiB },
  { base: 0x1_0000_0000, size: 4 * GiB },
];
const system = (free: FreeRange[] = systemFree) =>
  describeHeap({ name: 'system', kind: 'system', free, region: { base: 0, size: 8 * GiB } });
const cma = (free: FreeRange[] = [{ base: 0x3000_0000, size: 128 * MiB }]) =>
  describeHeap({ name: 'cma', kind: 'cma', free, region: { base: 0x3000_0000, size: 128 * MiB } });
const carveout = (free: FreeRange[] = [{ base: 0x3800_0000, size: 64 * MiB }]) =>
  describeHeap({ name: 'carveout', kind: 'carveout', free, region: { base: 0x3800_0000, size: 64 * MiB } });

const descs = (...ds: DeviceDmaDescription[]) => ds.map((d) => constraintsFromDevice(d));

const plan = (size: number, cs: AttacherConstraints[], heaps: HeapCapabilities[], opts: PlanOptions = {}) =>
  planBacking(size, combineConstraints(cs), heaps, opts);

const planned = (
  size: number,
  cs: AttacherConstraints[],
  heaps: HeapCapabilities[],
  opts: PlanOptions = {},
) => {
  const r = plan(size, cs, heaps, opts);
  if (E.isLeft(r)) throw new Error(r.left.message);
  return r.right;
};

const refused = (
  size: number,
  cs: AttacherConstraints[],
  heaps: HeapCapabilities[],
  opts: PlanOptions = {},
) => {
  const r = plan(size, cs, heaps, opts);
  if (E.isRight(r)) throw new Error(`planned unexpectedly: ${r.right.reasons.join(' | ')}`);
  return {
    code: r.left.code,
    message: r.left.message,
    cert: r.left.detail.certificate as ConflictCertificate,
  };
};

/** Places the plan in the given free memory and checks every attacher's DMA segment list. */
const checkPlaced = (p: BackingPlan, cs: AttacherConstraints[], free: FreeRange[]) => {
  const runs = placePlan(p, free);
  expect(runs).toBeDefined();
  for (const c of cs) {
    const att = p.attachers.find((a) => a.attacher === c.attacher);
    const path =
      att?.path === 'iommu'
        ? ({ kind: 'iommu', iova: Math.max(pow2Ceil(p.size), c.alignment) } as const)
        : ({ kind: 'direct' } as const);
    const segs = segmentsForAttachment(runs ?? [], c, path);
    expect(satisfies(segs, c)).toEqual({ ok: true });
    expect(segs.length).toBeLessThanOrEqual(att?.segments ?? 0);
  }
};

describe('plans for real devices', () => {
  it('an SD host (128 × 64 KiB, no IOMMU) gets scattered chunks of at least 64 KiB (drivers/mmc/host/sdhci.c)', () => {
    const cs = descs(sdHost);
    const p = planned(4 * MiB, cs, [system(), cma()]);
    expect(p.heap).toBe('system');
    expect(p.chunkFloor).toBe(64 * KiB);
    expect(p.chunks).toEqual([{ size: MiB, count: 4, used: MiB }]);
    expect(p.maxAddress).toBe(0xffffffff);
    expect(p.attachers).toEqual([{ attacher: 'sd0', path: 'direct', segments: 64, exact: true }]);
    expect(p.reasons[0]).toContain(
      '4 KiB chunks could give sd0 (no IOMMU) up to 1024 segments, where it accepts 128',
    );
    expect(p.reasons).toContain(
      'placed at or below 0xffffffff: sd0 (no IOMMU) cannot reach above 0xffffffff',
    );
    expect(p.cpuNeedsCacheMaintenance).toBe(true);
    checkPlaced(p, cs, systemFree);
  });

  it('an SD host can never take more than 128 × 64 KiB: EINVAL on maxSegmentCount', () => {
    const { code, cert, message } = refused(16 * MiB, descs(sdHost), [system(), cma()]);
    expect(code).toBe('EINVAL');
    expect(cert.field).toBe('maxSegmentCount');
    expect(cert.imposedBy).toEqual([{ attacher: 'sd0', value: 128 }]);
    expect(message).toContain('use buffers of at most 8 MiB for it');
  });

  it('a 64 KiB-boundary USB host never sees a segment cross 64 KiB (include/linux/dma-mapping.h dma_get_seg_boundary)', () => {
    const cs = descs(usbHost);
    const p = planned(MiB + 8 * KiB, cs, [system()]);
    expect(p.segmentSize).toBe(64 * KiB);
    expect(p.attachers[0]?.segments).toBe(18); // 16 from the 1 MiB chunk, one per 4 KiB page
    checkPlaced(p, cs, systemFree);
  });

  it('a 32-bit-only codec is placed below 4 GiB, a 0xddc00000 codec below 0xddc00000 exactly', () => {
    expect(planned(8 * MiB, descs(codec32), [system()]).maxAddress).toBe(0xffffffff);
    const p = planned(8 * MiB, descs(codecDdc), [system()]);
    expect(p.maxAddress).toBe(0xddc00000);
    checkPlaced(p, descs(codecDdc), systemFree);
  });

  it('a display needing one range in the bottom 1 GiB gets CMA, not scattered pages', () => {
    const cs = descs(display);
    const p = planned(8 * MiB, cs, [system(), cma()]);
    expect(p.heap).toBe('cma');
    expect(p.physicallyContiguous).toBe(true);
    expect(p.maxAddress).toBe(0x37ffffff); // the top of the CMA area, which lies below the display's limit
    expect(p.reasons).toContain(
      'the heap lies wholly within reach: display0 (no IOMMU) cannot reach above 0x3fffffff',
    );
    expect(p.attachers).toEqual([{ attacher: 'display0', path: 'direct', segments: 1, exact: true }]);
    expect(p.reasons[0]).toBe(
      "heap 'cma': one physically contiguous 8 MiB block, because display0 (no IOMMU) accepts 1 segment(s) where 1 MiB chunks would give 8",
    );
    expect(p.reasons[1]).toContain("passed over: even 1 MiB chunks from heap 'system' would give display0");
    checkPlaced(p, cs, [{ base: 0x3000_0000, size: 128 * MiB }]);
  });

  it('a small buffer for the display fits one system-heap chunk, which is contiguous already', () => {
    const p = planned(64 * KiB, descs(display), [system(), cma()]);
    expect(p.heap).toBe('system');
    expect(p.physicallyContiguous).toBe(true);
    expect(p.maxAddress).toBe(0x3fffffff);
  });

  it('five devices share one 8 MiB buffer: CMA below 1 GiB, every attacher within its limits', () => {
    const cs = descs(sdHost, usbHost, codec32, codecDdc, display);
    const p = planned(8 * MiB, cs, [system(), cma(), carveout()]);
    expect(p.heap).toBe('cma');
    expect(p.maxAddress).toBe(0x37ffffff);
    expect(p.segmentSize).toBe(64 * KiB);
    expect(p.attachers.map((a) => [a.attacher, a.segments])).toEqual([
      ['sd0', 128],
      ['usb0', 129], // at most: usb0 counts no segments, so the block is not aligned to its 64 KiB windows
      ['codec32', 1],
      ['codecDdc', 1],
      ['display0', 1],
    ]);
    expect(p.reasons.at(-1)).toContain('because sd0 and display0 are not cache-coherent');
    checkPlaced(p, cs, [{ base: 0x3000_0000, size: 128 * MiB }]);
  });

  it('a device behind an IOMMU needing one range gets one IOVA segment over scattered pages', () => {
    const cs = descs({ ...gpu, needsContiguous: true });
    const p = planned(64 * MiB, cs, [system(), cma()]);
    expect(p.heap).toBe('system');
    expect(p.physicallyContiguous).toBe(false);
    expect(p.attachers).toEqual([{ attacher: 'gpu0', path: 'iommu', segments: 1, exact: true }]);
    expect(p.reasons).toContain(
      'gpu0 reaches the buffer through an IOMMU (one IOVA range each), so the physical pages may scatter',
    );
    checkPlaced(p, cs, systemFree);
  });

  it('behind an IOMMU, segments are ceil(size / max_segment_size) (drivers/iommu/dma-iommu.c __finalise_sg)', () => {
    const p = planned(MiB, descs({ ...gpu, dmaParms: parms(65536) }), [system()]);
    expect(p.attachers[0]).toEqual({ attacher: 'gpu0', path: 'iommu', segments: 16, exact: true });
  });

  it('a counted device that could straddle a boundary window gets the block aligned to it', () => {
    const c = {
      ...unconstrainedAttacher('cam0'),
      segmentBoundaryMask: 16 * MiB - 1,
      needsContiguousDma: true,
    };
    const p = planned(12 * MiB, [c], [system(), cma()]);
    expect(p.heap).toBe('cma');
    expect(p.alignment).toBe(16 * MiB);
    expect(
      p.reasons.some((r) => r.startsWith('first byte aligned to 16 MiB: cam0 must not see a segment split')),
    ).toBe(true);
    checkPlaced(p, [c], [{ base: 0x3000_0000, size: 128 * MiB }]);
  });

  it('the carveout is used only when permitted heaps require it', () => {
    const cs = descs(codec32);
    expect(planned(MiB, cs, [carveout(), system()]).heap).toBe('system');
    const only = constraintsFromDevice(codec32, { permittedHeaps: ['carveout'] });
    const p = planned(MiB, [only], [carveout(), system()]);
    expect(p.heap).toBe('carveout');
    expect(p.reasons).toContain("passed over: heap 'system' is not among the heaps codec32 permits");
  });
});

describe('conflict certificates', () => {
  it('8 MiB for a one-segment device without IOMMU against a 4 MiB CMA run: contiguity, available 4 MiB', () => {
    const disp = constraintsFromDevice(display);
    const cmaFree = [
      { base: 0x3000_0000, size: 4 * MiB },
      { base: 0x3100_0000, size: 4 * MiB },
    ];
    const { code, cert, message } = refused(8 * MiB, [disp], [system(), cma(cmaFree)]);
    expect(code).toBe('ENOMEM');
    expect(cert.field).toBe('contiguity');
    expect(cert.imposedBy).toEqual([{ attacher: 'display0', value: 1 }]);
    expect(cert.available).toBe(4 * MiB);
    expect(cert.required).toBe(8 * MiB);
    expect(cert.heap).toBe('cma');
    expect(cert.heapsTried.map((a) => [a.heap, a.field])).toEqual([
      ['system', 'contiguity'],
      ['cma', 'contiguity'],
    ]);
    expect(message).toBe(
      "no heap can hold the 8 MiB buffer: the 8 MiB buffer must be physically contiguous for display0 (no IOMMU, at most 1 segments), but the largest free 4 KiB-aligned block in heap 'cma' at or below 0x37ffffff is 4 MiB; even 1 MiB chunks from heap 'system' would give display0 (no IOMMU) up to 8 segments, where it accepts 1: that needs physically contiguous memory",
    );
    // Without the display, the system heap serves the rest.
    expect(E.isRight(plan(8 * MiB, descs(codec32), [system(), cma(cmaFree)]))).toBe(true);
  });

  it('the limit is blamed when a large enough block is free only above it', () => {
    const span = { base: 0x3c00_0000, size: 128 * MiB };
    const high = describeHeap({
      name: 'cma',
      kind: 'cma',
      region: span,
      free: [
        { base: 0x3c00_0000, size: 2 * MiB },
        { base: 0x4000_0000, size: 64 * MiB },
      ],
    });
    const { code, cert } = refused(8 * MiB, descs(display), [high]);
    expect(code).toBe('ENOMEM');
    expect(cert.field).toBe('dmaLimit');
    expect(cert.imposedBy).toEqual([{ attacher: 'display0', value: 0x3fffffff }]);
    expect(cert.available).toBe(2 * MiB);
  });

  it('only a scattering heap for a device needing contiguous pages is EINVAL, not ENOMEM', () => {
    const { code, cert } = refused(8 * MiB, descs(display), [system()]);
    expect(code).toBe('EINVAL');
    expect(cert.field).toBe('contiguity');
  });

  it('permitted-heap lists without a common heap are EINVAL on permittedHeaps', () => {
    const a = constraintsFromDevice(codec32, { permittedHeaps: ['cma'] });
    const b = constraintsFromDevice(sdHost, { permittedHeaps: ['system'] });
    const { code, cert } = refused(MiB, [a, b], [system(), cma()]);
    expect(code).toBe('EINVAL');
    expect(cert.field).toBe('permittedHeaps');
    expect(cert.imposedBy).toEqual([
      { attacher: 'codec32', value: ['cma'] },
      { attacher: 'sd0', value: ['system'] },
    ]);
  });

  it('protected memory required by one attacher and refused by another is EINVAL on protected', () => {
    const a = constraintsFromDevice(codec32, { protected: true });
    const b = constraintsFromDevice(display, { protected: false });
    const { code, cert } = refused(MiB, [a, b], [system(), cma()]);
    expect(code).toBe('EINVAL');
    expect(cert.field).toBe('protected');
    expect(cert.imposedBy).toEqual([
      { attacher: 'codec32', value: true },
      { attacher: 'display0', value: false },
    ]);
  });

  it('protected memory comes only from a protected heap', () => {
    const secure = describeHeap({
      name: 'secure',
      kind: 'carveout',
      free: [{ base: 0x2000_0000, size: 64 * MiB }],
      protected: true,
    });
    const a = constraintsFromDevice(codec32, { protected: true });
    expect(planned(MiB, [a], [system(), secure]).heap).toBe('secure');
    expect(planned(MiB, descs(codec32), [system(), secure]).heap).toBe('system');
    expect(refused(MiB, [a], [system()]).cert.field).toBe('protected');
  });

  it('a one-range device whose segments are shorter than the buffer is EINVAL on maxSegmentSize', () => {
    const { cert } = refused(MiB, descs({ ...display, dmaParms: parms(65536) }), [cma()]);
    expect(cert.field).toBe('maxSegmentSize');
    expect(cert.imposedBy).toEqual([{ attacher: 'display0', value: 65536 }]);
  });

  it('a size that is not a positive integer is EINVAL on size', () => {
    expect(refused(0, [], [system()]).cert.field).toBe('size');
    expect(refused(1.5, [], [system()]).cert.field).toBe('size');
  });
});

describe('bouncing', () => {
  const highOnly = () => system([{ base: 0x1_0000_0000, size: 4 * GiB }]);
  const pool = { bytes: 64 * MiB, maxAddress: 0x0bff_ffff };

  it('a codec that accepts bouncing is bounced when no memory lies below its limit (kernel/dma/direct.c dma_direct_map_page)', () => {
    const cs = descs(codec32);
    expect(refused(8 * MiB, cs, [highOnly()]).cert.field).toBe('dmaLimit');
    const p = planned(8 * MiB, cs, [highOnly()], { bouncePool: pool });
    expect(p.bounced).toEqual(['codec32']);
    expect(p.attachers[0]?.path).toBe('bounce');
    expect(p.reasons.some((r) => r.startsWith('codec32 may be handed swiotlb bounce copies'))).toBe(true);
    const runs = placePlan(p, [{ base: 0x1_0000_0000, size: 4 * GiB }]) ?? [];
    const segs = segmentsForAttachment(runs, cs[0] as AttacherConstraints, {
      kind: 'bounce',
      poolAddress: 0x0800_0000,
    });
    expect(satisfies(segs, cs[0] as AttacherConstraints)).toEqual({ ok: true });
  });

  it('a scanout engine is never bounced', () => {
    const cert = refused(64 * KiB, descs(display), [highOnly()], { bouncePool: pool }).cert;
    expect(cert.field).toBe('dmaLimit');
    expect(cert.imposedBy).toEqual([{ attacher: 'display0', value: 0x3fffffff }]);
  });

  it('a buffer larger than the bounce pool yields a bounce certificate', () => {
    const { code, cert } = refused(128 * MiB, descs(codec32), [highOnly()], { bouncePool: pool });
    expect(code).toBe('ENOMEM');
    expect(cert.field).toBe('bounce');
    expect(cert.available).toBe(64 * MiB);
  });
});
