import { unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  DMA_MAPPING_ERROR,
  DmaAttr,
  DmaDirection,
  dmaInfoToProt,
  sgAllocTableFromPages,
} from '../src/index.js';
import { dmaMachine } from './fixture.js';

const { TO_DEVICE, FROM_DEVICE, BIDIRECTIONAL } = DmaDirection;
const GiB = 2 ** 30;
const devRead = (
  dev: { dmaRead: (a: number, b: Uint8Array, o: number, l: number) => E.Either<{ code: string }, void> },
  bus: number,
  n: number,
) => {
  const b = new Uint8Array(n);
  const r = dev.dmaRead(bus, b, 0, n);
  return E.isRight(r) ? [...b] : r.left.code;
};

describe('ops are chosen per device (get_dma_ops, include/linux/dma-map-ops.h)', () => {
  it('direct without an IOMMU, IOMMU-backed behind a DMA domain, swiotlb when forced', () => {
    const m = dmaMachine({}, { forceBounce: ['untrusted'] });
    expect(m.dma.opsKind(m.device({ name: 'cam' }))).toBe('direct');
    expect(m.dma.opsKind(m.device({ name: 'isp' }, true))).toBe('iommu');
    expect(m.dma.opsKind(m.device({ name: 'untrusted' }))).toBe('swiotlb');
  });

  it('direct mapping: bus address = physical address − range offset (kernel/dma/direct.h phys_to_dma)', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev', dmaRangeOffset: 0x1000_0000, dmaMask: 64 });
    const pa = m.buffer();
    const dma = unwrap(m.dma.mapPage(dev, pa, 4096, TO_DEVICE));
    expect(dma).toBe(pa - 0x1000_0000);
    unwrap(m.dma.dmaUnmapPageAttrs(dev, dma, 4096, TO_DEVICE));
  });

  it('a 32-bit device handed high memory is remapped below 4 GiB by the IOMMU, never truncated (dma-iommu.c)', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev32', dmaMask: 32 }, true);
    const pa = m.buffer();
    expect(pa).toBeGreaterThanOrEqual(4 * GiB);
    m.cpuWrite(pa, [1, 2, 3, 4]);
    const dma = unwrap(m.dma.mapPage(dev, pa, 4096, TO_DEVICE));
    expect(dma).toBeLessThan(4 * GiB);
    expect(devRead(dev, dma, 4)).toEqual([1, 2, 3, 4]);
  });

  it('a 32-bit device handed high memory without IOMMU or swiotlb is refused, never truncated', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev32', dmaMask: 32 });
    const dma = m.dma.dmaMapPageAttrs(dev, m.buffer(), 4096, TO_DEVICE);
    expect(dma).toBe(DMA_MAPPING_ERROR);
    expect(m.dma.dmaMappingError(dev, dma)).toBe(true);
    expect(m.dma.lastError(dev)?.message).toMatch(/overflow/);
  });
});

describe('ownership and sync (Documentation/core-api/dma-api-howto.rst)', () => {
  it('forgetting sync_for_cpu after a device write shows the CPU stale data', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev', dmaMask: 64 });
    const pa = m.buffer();
    m.cpuWrite(pa, [0, 0, 0, 0]);
    const dma = unwrap(m.dma.mapPage(dev, pa, 4096, FROM_DEVICE));
    expect(m.cpuRead(pa, 4)).toEqual([0, 0, 0, 0]); // the driver peeks (a bug): the line is cached now
    unwrap(dev.dmaWrite(dma, Uint8Array.of(9, 9, 9, 9), 0, 4));
    expect(m.cpuRead(pa, 4)).toEqual([0, 0, 0, 0]); // stale
    unwrap(m.dma.dmaSyncSingleForCpu(dev, dma, 4096, FROM_DEVICE));
    expect(m.cpuRead(pa, 4)).toEqual([9, 9, 9, 9]);
  });

  it('forgetting the clean before a device read shows the device stale data (map first, sync later: SKIP_CPU_SYNC)', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev', dmaMask: 64 });
    const pa = m.buffer();
    m.cpuWrite(pa, [5, 6, 7, 8]);
    const dma = unwrap(m.dma.mapPage(dev, pa, 4096, TO_DEVICE, DmaAttr.SKIP_CPU_SYNC));
    expect(devRead(dev, dma, 4)).toEqual([0, 0, 0, 0]);
    unwrap(m.dma.dmaSyncSingleForDevice(dev, dma, 4096, TO_DEVICE)); // the deferred flush (seed 002)
    expect(devRead(dev, dma, 4)).toEqual([5, 6, 7, 8]);
  });

  it('ARMv7: handing a FROM_DEVICE buffer to the device invalidates it, destroying dirty CPU data (arch/arm/mm/dma-mapping.c)', () => {
    const m = dmaMachine({ arch: 'armv7' });
    const dev = m.device({ name: 'dev', dmaMask: 64 });
    const pa = m.buffer();
    const lost: number[] = [];
    m.platform.buses.cache.on('dirty-discarded', (e) => lost.push(e.bytesLost));
    m.cpuWrite(pa + 128, [0xaa]);
    unwrap(m.dma.mapPage(dev, pa, 4096, FROM_DEVICE));
    expect(lost).toEqual([64]);
    expect(m.cpuRead(pa + 128, 1)).toEqual([0]);
  });

  it('ARMv8: handing a FROM_DEVICE buffer to the device cleans it; nothing is lost (arch/arm64/mm/dma-mapping.c)', () => {
    const m = dmaMachine({ arch: 'armv8' });
    const dev = m.device({ name: 'dev', dmaMask: 64 });
    const pa = m.buffer();
    m.cpuWrite(pa + 128, [0xaa]);
    const dma = unwrap(m.dma.mapPage(dev, pa, 4096, FROM_DEVICE));
    expect(devRead(dev, dma + 128, 1)).toEqual([0xaa]);
    unwrap(m.dma.dmaUnmapPageAttrs(dev, dma, 4096, FROM_DEVICE));
    expect(m.cpuRead(pa + 128, 1)).toEqual([0xaa]);
  });

  it('invalidation keeps CPU data that shares a cache line with the buffer edge (v7_dma_inv_range)', () => {
    const m = dmaMachine({ arch: 'armv7' });
    const dev = m.device({ name: 'dev', dmaMask: 64 });
    const pa = m.buffer();
    m.cpuWrite(pa + 10, [0x55]); // outside the buffer below, same line
    unwrap(m.dma.mapPage(dev, pa + 32, 64, FROM_DEVICE));
    expect(m.cpuRead(pa + 10, 1)).toEqual([0x55]);
  });

  it('a coherent device needs no maintenance: it sees the CPU data at once', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev', dmaMask: 64, coherent: true });
    const pa = m.buffer();
    const dma = unwrap(m.dma.mapPage(dev, pa, 4096, TO_DEVICE, DmaAttr.SKIP_CPU_SYNC));
    m.cpuWrite(pa, [3]);
    expect(devRead(dev, dma, 1)).toEqual([3]);
  });
});

describe('IOMMU-backed mapping (drivers/iommu/dma-iommu.c)', () => {
  it('maps with the permissions the direction allows (dma_info_to_prot)', () => {
    expect(dmaInfoToProt(TO_DEVICE, false, 0)).toBe(1);
    expect(dmaInfoToProt(FROM_DEVICE, false, 0)).toBe(2);
    expect(dmaInfoToProt(BIDIRECTIONAL, true, DmaAttr.PRIVILEGED)).toBe(1 | 2 | 4 | 32);
    const m = dmaMachine();
    const dev = m.device({ name: 'dev', dmaMask: 64 }, true);
    const dma = unwrap(m.dma.mapPage(dev, m.buffer(), 4096, TO_DEVICE));
    expect(E.isLeft(dev.dmaWrite(dma, Uint8Array.of(1), 0, 1))).toBe(true);
  });

  it('map_sg lays scattered pages out as one contiguous IOVA range when the parms allow', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'isp', dmaMask: 64, dmaParms: { maxSegmentSize: 2 ** 20 } }, true);
    const pfns = Array.from({ length: 16 }, () => m.buffer() / 4096).reverse();
    const sgt = unwrap(sgAllocTableFromPages(undefined, pfns, 0, 16 * 4096, 2 ** 20));
    unwrap(m.dma.dmaMapSgtable(dev, sgt, BIDIRECTIONAL));
    expect(sgt.origNents).toBeGreaterThan(1);
    expect(sgt.nents).toBe(1);
    expect(sgt.dmaLength(0)).toBe(16 * 4096);
    unwrap(m.dma.dmaUnmapSgtable(dev, sgt, BIDIRECTIONAL));
  });

  it('map_sg splits DMA segments at max_segment_size', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'sd', dmaMask: 64, dmaParms: { maxSegmentSize: 0x1_0000 } }, true);
    const pfns = Array.from({ length: 64 }, () => m.buffer() / 4096);
    const sgt = unwrap(sgAllocTableFromPages(undefined, pfns, 0, 64 * 4096, 0x1_0000));
    unwrap(m.dma.dmaMapSgtable(dev, sgt, TO_DEVICE));
    expect(sgt.nents).toBe(4);
  });
});

describe('coherent and non-coherent allocations (kernel/dma/direct.c, dma-iommu.c)', () => {
  it('a coherent buffer for a non-coherent device has an uncached CPU view: no sync needed', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev', dmaMask: 32 });
    const buf = unwrap(m.dma.dmaAllocAttrs(dev, 8192));
    expect(buf.cpu?.attr).toBe('uncached');
    expect(buf.dmaAddr + 8191).toBeLessThanOrEqual(0xffff_ffff);
    unwrap(buf.cpu!.write(100, Uint8Array.of(42), 0, 1));
    expect(devRead(dev, buf.dmaAddr + 100, 1)).toEqual([42]);
    unwrap(m.dma.dmaFreeAttrs(buf));
    expect(E.isLeft(m.dma.dmaFreeAttrs(buf))).toBe(true);
  });

  it('coherent memory comes zeroed even when its last owner left dirty lines in the cache (dma_alloc_attrs)', () => {
    const m = dmaMachine();
    const cma = m.platform.defaultCma!;
    const pfn = unwrap(cma.alloc(2, 0));
    m.cpuWrite(pfn * 4096, [0xee]); // a dirty line the previous owner never cleaned
    unwrap(cma.release(pfn, 2));
    const dev = m.device({ name: 'dev', dmaMask: 32 });
    const buf = unwrap(m.dma.dmaAllocAttrs(dev, 8192)); // first fit: the same CMA pages
    expect(buf.chunks[0]!.phys).toBe(pfn * 4096);
    expect(devRead(dev, buf.dmaAddr, 1)).toEqual([0]);
    const b = new Uint8Array(1);
    unwrap(buf.cpu!.read(0, b, 0, 1));
    expect(b[0]).toBe(0);
  });

  it('the coherent mask, not the streaming mask, places coherent allocations', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev', dmaMask: 64, coherentDmaMask: 32 });
    const buf = unwrap(m.dma.dmaAllocAttrs(dev, 4096));
    expect(buf.dmaAddr).toBeLessThan(4 * GiB);
  });

  it('NO_KERNEL_MAPPING gives no CPU view; WRITE_COMBINE a write-combined one', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'gpu', dmaMask: 64 }, true);
    expect(unwrap(m.dma.dmaAllocAttrs(dev, 4096, DmaAttr.NO_KERNEL_MAPPING)).cpu).toBeUndefined();
    expect(unwrap(m.dma.dmaAllocAttrs(dev, 4096, DmaAttr.WRITE_COMBINE)).cpu?.attr).toBe('write-combine');
  });

  it('IOMMU-backed allocations may scatter; FORCE_CONTIGUOUS makes them physically contiguous', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'gpu', dmaMask: 64 }, true);
    const single = unwrap(m.dma.dmaAllocAttrs(dev, 16 * 4096, DmaAttr.ALLOC_SINGLE_PAGES));
    expect(single.chunks).toHaveLength(16);
    const contig = unwrap(m.dma.dmaAllocAttrs(dev, 16 * 4096, DmaAttr.FORCE_CONTIGUOUS));
    expect(contig.chunks).toHaveLength(1);
    unwrap(single.cpu!.write(4096 * 5, Uint8Array.of(7), 0, 1));
    expect(devRead(dev, single.dmaAddr + 4096 * 5, 1)).toEqual([7]);
  });

  it('a non-coherent allocation has a cached view and needs sync', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev', dmaMask: 64 });
    const buf = unwrap(m.dma.dmaAllocNoncoherent(dev, 4096, TO_DEVICE));
    expect(buf.cpu?.attr).toBe('cached');
    unwrap(buf.cpu!.write(0, Uint8Array.of(1), 0, 1));
    expect(devRead(dev, buf.dmaAddr, 1)).toEqual([0]);
    unwrap(m.dma.dmaSyncSingleForDevice(dev, buf.dmaAddr, 4096, TO_DEVICE));
    expect(devRead(dev, buf.dmaAddr, 1)).toEqual([1]);
  });
});

describe('extensions proposed in the seeds', () => {
  it('FIXED_MAPPING (seed 000): the caller chooses the IOVA; a capability query says which ops can', () => {
    const m = dmaMachine();
    const isp = m.device({ name: 'isp', dmaMask: 64 }, true);
    const cam = m.device({ name: 'cam', dmaMask: 64 });
    expect(m.dma.supportsFixedMapping(isp)).toBe(true);
    expect(m.dma.supportsFixedMapping(cam)).toBe(false);
    const pa = m.buffer();
    m.cpuWrite(pa, [4, 4]);
    expect(unwrap(m.dma.dmaMapPageFixed(isp, pa, 0x8000_0000, 4096, TO_DEVICE))).toBe(0x8000_0000);
    expect(devRead(isp, 0x8000_0000, 2)).toEqual([4, 4]);
    const taken = m.dma.dmaMapPageFixed(isp, pa, 0x8000_0000, 4096, TO_DEVICE);
    expect(E.isLeft(taken) && taken.left.code).toBe('EEXIST');
    const refused = m.dma.dmaMapPageFixed(cam, pa, 0x8000_0000, 4096, TO_DEVICE);
    expect(E.isLeft(refused) && refused.left.code).toBe('EOPNOTSUPP');
    unwrap(m.dma.dmaUnmapPageAttrs(isp, 0x8000_0000, 4096, TO_DEVICE));
  });

  it('iova_alloc / iova_alloc_at / map_page_at / iova_free through the DMA API (seed 004)', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'tegra', dmaMask: 32 }, true);
    const fixed = unwrap(m.dma.iovaAllocAt(dev, 0x1000_0000, 0x4000));
    const pa = m.buffer();
    m.cpuWrite(pa, [8]);
    unwrap(m.dma.mapPageAt(dev, pa, fixed + 0x2000, 4096, BIDIRECTIONAL));
    expect(devRead(dev, 0x1000_2000, 1)).toEqual([8]);
    const anywhere = unwrap(m.dma.iovaAlloc(dev, 0x8000));
    expect(anywhere).not.toBe(fixed);
    expect(E.isLeft(m.dma.mapPageAt(dev, pa, 0x2000_0000, 4096, TO_DEVICE))).toBe(true);
    unwrap(m.dma.iovaFree(dev, fixed, 0x4000));
    expect(devRead(dev, 0x1000_2000, 1)).toBe('EFAULT');
  });
});

describe('DMA debug on the API (kernel/dma/debug.c)', () => {
  it('reports unmapping what was never mapped, and a mapping never checked with dma_mapping_error', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev', dmaMask: 64 });
    m.dma.dmaUnmapPageAttrs(dev, 0x1234_0000, 4096, TO_DEVICE);
    const dma = m.dma.dmaMapPageAttrs(dev, m.buffer(), 4096, TO_DEVICE);
    m.dma.dmaUnmapPageAttrs(dev, dma, 4096, TO_DEVICE);
    expect(m.dma.debug.findings().map((f) => f.kind)).toEqual([
      'free-not-allocated',
      'map-error-not-checked',
    ]);
  });

  it('reports device DMA to a buffer the CPU owns and CPU access to a buffer the device owns', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev', dmaMask: 64 });
    const pa = m.buffer();
    const dma = unwrap(m.dma.mapPage(dev, pa, 4096, BIDIRECTIONAL));
    m.cpuRead(pa, 4);
    unwrap(m.dma.dmaSyncSingleForCpu(dev, dma, 4096, BIDIRECTIONAL));
    devRead(dev, dma, 4);
    expect(m.dma.debug.findings().map((f) => f.kind)).toEqual([
      'cpu-access-device-owned',
      'device-dma-cpu-owned',
    ]);
  });

  it('reports mappings leaked when the device is unbound', () => {
    const m = dmaMachine();
    const dev = m.device({ name: 'dev', dmaMask: 64 });
    unwrap(m.dma.mapPage(dev, m.buffer(), 4096, TO_DEVICE));
    unwrap(m.platform.devices.remove('dev'));
    expect(m.dma.debug.findings().map((f) => f.kind)).toEqual(['pending-at-unbind']);
  });

  it('can be switched off for speed', () => {
    const m = dmaMachine({}, { debug: false });
    const dev = m.device({ name: 'dev', dmaMask: 64 });
    m.dma.dmaUnmapPageAttrs(dev, 0x1234_0000, 4096, TO_DEVICE);
    expect(m.dma.debug.findings()).toHaveLength(0);
  });
});
