import { PAGE_SIZE, Platform, unwrap } from '@sharedbuf/platform';
import { describe, expect, it } from 'vitest';
import {
  type AttacherConstraints,
  type AttachmentPath,
  type BackingPlan,
  combineConstraints,
  constraintsFromDevice,
  type DeviceDmaDescription,
  GiB,
  KiB,
  MiB,
  NO_LIMIT,
  planBacking,
  satisfies,
  segmentsForAttachment,
} from '../src/constraints/index.js';
import { type Backing, type DmaHeap, defaultHeaps } from '../src/heaps/index.js';
import { codec32, display, gpu, sdHost } from './device-descriptions.js';

const boot = () => {
  const platform = new Platform();
  const registry = defaultHeaps(platform);
  return { platform, registry, heaps: registry.list() };
};

/** Plans for the devices, allocates by the plan from the chosen heap, and returns both. */
const planAndAllocate = (
  heaps: readonly DmaHeap[],
  size: number,
  devices: readonly DeviceDmaDescription[],
): { plan: BackingPlan; backing: Backing; constraints: AttacherConstraints[] } => {
  const constraints = devices.map((d) => constraintsFromDevice(d));
  const plan = unwrap(planBacking(size, combineConstraints(constraints), heaps));
  const heap = heaps.find((h) => h.name === plan.heap) as DmaHeap;
  return { plan, backing: unwrap(heap.allocate(plan)), constraints };
};

/** Checks every attacher's real segment list for the backing against its constraints and the plan. */
const expectServed = (plan: BackingPlan, backing: Backing, constraints: readonly AttacherConstraints[]) => {
  const total = backing.runs.reduce((n, r) => n + r.length, 0);
  expect(total).toBe(plan.size);
  for (const r of backing.runs) expect(r.phys + r.length - 1).toBeLessThanOrEqual(plan.maxAddress);
  for (const c of constraints) {
    const path: AttachmentPath = c.behindIommu ? { kind: 'iommu', iova: 0 } : { kind: 'direct' };
    const segments = segmentsForAttachment(backing.runs, c, path);
    expect(satisfies(segments, c)).toEqual({ ok: true });
    const planned = plan.attachers.find((a) => a.attacher === c.attacher);
    expect(segments.length).toBeLessThanOrEqual(planned?.segments ?? 0);
  }
};

describe('planBacking, then allocate from the live heaps', () => {
  it('an SD host without an IOMMU gets 64 KiB chunks or larger below 4 GiB, within its 128 segments', () => {
    const { heaps } = boot();
    const { plan, backing, constraints } = planAndAllocate(heaps, 6 * MiB, [sdHost]);
    expect(plan.heap).toBe('system');
    expect(plan.chunkFloor).toBe(64 * KiB);
    expect(backing.runs.every((r) => r.length >= 64 * KiB && r.phys % (64 * KiB) === 0)).toBe(true);
    expectServed(plan, backing, constraints);
  });

  it('a 32-bit codec, the SD host and a GPU behind an IOMMU share one scattered backing', () => {
    const { heaps } = boot();
    const { plan, backing, constraints } = planAndAllocate(heaps, 5 * MiB + 12 * KiB, [codec32, sdHost, gpu]);
    expect(plan.heap).toBe('system');
    expect(plan.maxAddress).toBe(2 ** 32 - 1);
    expectServed(plan, backing, constraints);
  });

  it('a display that needs contiguous memory below 1 GiB gets one run from the CMA region at 256..512 MiB', () => {
    const { platform, heaps } = boot();
    const { plan, backing, constraints } = planAndAllocate(heaps, 8 * MiB, [display, codec32]);
    expect(plan.heap).toBe('reserved');
    expect(backing.runs).toHaveLength(1);
    const run = backing.runs[0] as { phys: number; length: number };
    expect(run.phys).toBeGreaterThanOrEqual(256 * MiB);
    expect(run.phys + run.length).toBeLessThanOrEqual(512 * MiB);
    expectServed(plan, backing, constraints);
    expect(platform.defaultCma?.usedPages).toBe((8 * MiB) / PAGE_SIZE);
  });

  it('once the CMA region is taken, the display plan moves to the carveout below 1 GiB', () => {
    const { platform, heaps } = boot();
    const region = platform.defaultCma as NonNullable<typeof platform.defaultCma>;
    unwrap(region.alloc(region.pageCount - 1, 0));
    const { plan, backing, constraints } = planAndAllocate(heaps, 8 * MiB, [display]);
    expect(plan.heap).toBe('carveout');
    expect(backing.runs[0]?.phys).toBe(768 * MiB);
    expectServed(plan, backing, constraints);
  });
});

describe('capabilities follow the allocators live', () => {
  it('system heap: free bytes and free chunks shrink by what a buffer takes and come back when it is freed', () => {
    const { registry } = boot();
    const system = unwrap(registry.get('system'));
    const limits = [NO_LIMIT, 2 ** 32 - 1, GiB - 1];
    const before = limits.map((m) => [
      system.freeBytes(m),
      system.freeChunks(MiB, m),
      system.freeChunks(64 * KiB, m),
    ]);
    const dma30 = { ...display, name: 'dma30', needsContiguous: false };
    const plan = unwrap(planBacking(3 * MiB, combineConstraints([constraintsFromDevice(dma30)]), [system]));
    expect(plan.maxAddress).toBe(GiB - 1);
    const b = unwrap(system.allocate(plan));
    for (const [i, m] of limits.entries()) {
      const [bytes, mibs, kibs] = before[i] as number[];
      expect(system.freeBytes(m)).toBe((bytes as number) - 3 * MiB);
      expect(system.freeChunks(MiB, m)).toBe((mibs as number) - 3);
      expect(system.freeChunks(64 * KiB, m)).toBe((kibs as number) - 48);
    }
    unwrap(b.free());
    expect(
      limits.map((m) => [system.freeBytes(m), system.freeChunks(MiB, m), system.freeChunks(64 * KiB, m)]),
    ).toEqual(before);
  });

  it('system heap: the largest block it offers is its largest chunk the buddy allocator still has', () => {
    const { registry } = boot();
    const system = unwrap(registry.get('system'));
    expect(system.largestContiguousFree(NO_LIMIT)).toBe(MiB);
    expect(system.largestContiguousFree(NO_LIMIT, 2 * MiB)).toBe(0);
    expect(system.largestContiguousFree(32 * KiB - 1)).toBe(4 * KiB);
    expect(system.largestContiguousFree(32 * KiB - 1, 8 * KiB)).toBe(0);
    expect(system.largestContiguousFree(128 * KiB - 1)).toBe(64 * KiB);
  });

  it('CMA heap: sees its own buffers and the region’s other users (dma_alloc_contiguous shares the default area)', () => {
    const { platform, registry } = boot();
    const cma = unwrap(registry.get('reserved'));
    const base = 256 * MiB;
    unwrap(
      cma.allocate(unwrap(planBacking(MiB, combineConstraints([constraintsFromDevice(display)]), [cma]))),
    );
    expect(cma.freeBytes(NO_LIMIT)).toBe(255 * MiB);
    expect(cma.largestContiguousFree(NO_LIMIT)).toBe(255 * MiB);
    unwrap(
      (platform.defaultCma as NonNullable<typeof platform.defaultCma>).alloc(1, 0, {
        maxAddress: base + 101 * MiB - 1,
      }),
    );
    // That page went to the first free pfn, right after the heap's buffer.
    expect(cma.freeBytes(NO_LIMIT)).toBe(255 * MiB - 4 * KiB);
    expect(cma.largestContiguousFree(NO_LIMIT)).toBe(255 * MiB - 4 * KiB);
    expect(cma.largestContiguousFree(NO_LIMIT, 2 * MiB)).toBe(254 * MiB);
    expect(cma.freeBytes(base + 2 * MiB - 1)).toBe(MiB - 4 * KiB);
    expect(cma.freeChunks(MiB, base + 4 * MiB - 1)).toBe(2);
  });

  it('carveout heap: holes left by freed buffers show in the largest free block', () => {
    const { registry } = boot();
    const carve = unwrap(registry.get('carveout'));
    const plan = (size: number) => ({
      ...unwrap(planBacking(size, combineConstraints([constraintsFromDevice(display)]), [carve])),
    });
    const a = unwrap(carve.allocate(plan(16 * MiB)));
    unwrap(carve.allocate(plan(16 * MiB)));
    expect(carve.largestContiguousFree(NO_LIMIT)).toBe(32 * MiB);
    unwrap(a.free());
    expect(carve.freeBytes(NO_LIMIT)).toBe(48 * MiB);
    expect(carve.largestContiguousFree(NO_LIMIT)).toBe(32 * MiB);
    expect(carve.largestContiguousFree(768 * MiB + 16 * MiB - 1)).toBe(16 * MiB);
  });
});
