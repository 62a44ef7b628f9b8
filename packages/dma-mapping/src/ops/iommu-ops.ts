import {
  IOMMU_CACHE,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  type IommuCore,
  type IommuDomain,
  iommuIotlbGatherInit,
  iommuIotlbSync,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmapFast,
  lowestPgsize,
} from '@sharedbuf/iommu';
import { type Device, dmaDirectLimit, fail, hex, type KResult, ok, type Platform } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { DmaAttr, hasAttr } from '../attrs.js';
import { DmaDirection } from '../debug/direction.js';
import { layoutIommuSg } from '../scatterlist/iommu-sg-layout.js';
import { mergeDmaSegments } from '../scatterlist/merge-dma-segments.js';
import type { SgTable } from '../scatterlist/sg-table.js';
import { archSyncForCpu, archSyncForDevice } from './arch-sync.js';
import type { DmaMapOps } from './dma-ops.js';

const OK: KResult<void> = ok(undefined);
const DMA_BIT_MASK_32 = 0xffff_ffff;

/** `dma_info_to_prot`: IOMMU permissions for a DMA direction (drivers/iommu/dma-iommu.c). */
export const dmaInfoToProt = (dir: DmaDirection, coherent: boolean, attrs: number): number => {
  let prot = coherent ? IOMMU_CACHE : 0;
  if (hasAttr(attrs, DmaAttr.PRIVILEGED)) prot |= IOMMU_PRIV;
  if (dir === DmaDirection.BIDIRECTIONAL) return prot | IOMMU_READ | IOMMU_WRITE;
  if (dir === DmaDirection.TO_DEVICE) return prot | IOMMU_READ;
  if (dir === DmaDirection.FROM_DEVICE) return prot | IOMMU_WRITE;
  return 0;
};

/**
 * IOMMU-backed DMA (`drivers/iommu/dma-iommu.c`): addresses come from the device's DMA domain's IOVA
 * allocator, below the device's DMA limit, and are mapped with the permissions the direction allows.
 * `map_sg` lays the segments out back to back in one IOVA allocation, padding to the segment
 * boundary where needed, so a device that needs one contiguous range gets one.
 */
export class IommuOps implements DmaMapOps {
  readonly kind = 'iommu' as const;

  constructor(
    private readonly platform: Platform,
    private readonly iommu: IommuCore,
  ) {}

  mapPhys(dev: Device, phys: number, size: number, dir: DmaDirection, attrs: number): KResult<number> {
    const domain = this.domain(dev);
    if (E.isLeft(domain)) return domain;
    const d = domain.right;
    const granule = lowestPgsize(d.pgsizeBitmap);
    const off = phys % granule;
    const len = alignUp(size + off, granule);
    const iova = this.allocIova(dev, d, len);
    if (E.isLeft(iova)) return iova;
    const mapped = iommuMap(d, iova.right, phys - off, len, dmaInfoToProt(dir, dev.coherent, attrs));
    if (E.isLeft(mapped)) {
      d.iovad!.freeIovaFast(iova.right / granule, len / granule);
      return mapped;
    }
    // The kernel syncs before mapping; the model syncs once the mapping exists, so that a refused
    // map leaves the cache alone (the device cannot have touched the buffer in between).
    if (!dev.coherent && !hasAttr(attrs, DmaAttr.SKIP_CPU_SYNC)) {
      const r = archSyncForDevice(this.platform.arch, this.platform.cache, phys, size, dir);
      if (E.isLeft(r)) {
        this.unmapIova(d, iova.right, len);
        return r;
      }
    }
    return ok(iova.right + off);
  }

  unmapPhys(dev: Device, dma: number, size: number, dir: DmaDirection, attrs: number): KResult<void> {
    const domain = this.domain(dev);
    if (E.isLeft(domain)) return domain;
    const d = domain.right;
    const granule = lowestPgsize(d.pgsizeBitmap);
    const off = dma % granule;
    const start = dma - off;
    const len = alignUp(size + off, granule);
    const range = d.iovad!.findIova(start / granule);
    if (range === undefined || range.pfnLo !== start / granule) {
      return fail('EINVAL', `${dev.name}: ${hex(dma)} is not a DMA address this device mapped`, {
        device: dev.name,
        dma,
      });
    }
    if (!dev.coherent && !hasAttr(attrs, DmaAttr.SKIP_CPU_SYNC)) {
      const r = this.syncForCpu(dev, dma, size, dir);
      if (E.isLeft(r)) return r;
    }
    this.unmapIova(d, start, len);
    return OK;
  }

  mapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs: number, iovaAlign = 0): KResult<void> {
    const domain = this.domain(dev);
    if (E.isLeft(domain)) return domain;
    const d = domain.right;
    const granule = lowestPgsize(d.pgsizeBitmap);
    const mask = dev.dmaParms.segmentBoundaryMask;
    const iovaLen = layoutIommuSg(sgt, granule, mask);
    const iova = this.allocIova(dev, d, iovaLen, iovaAlign);
    if (E.isLeft(iova)) return this.refuseSg(sgt, iova);
    const prot = dmaInfoToProt(dir, dev.coherent, attrs);
    for (let i = 0; i < sgt.origNents; i++) {
      const off = sgt.phys(i) % granule;
      const at = iova.right + sgt.dmaAddress(i) - off;
      const mapped = iommuMap(d, at, sgt.phys(i) - off, alignUp(sgt.length(i) + off, granule), prot);
      if (E.isLeft(mapped)) {
        this.unmapIova(d, iova.right, iovaLen);
        return this.refuseSg(sgt, mapped);
      }
      sgt.setDma(i, iova.right + sgt.dmaAddress(i), sgt.length(i));
    }
    // Synced once mapped, so that a refused map leaves the cache alone (see mapPhys).
    const synced = this.syncSg(dev, sgt, dir, 'device', attrs);
    if (E.isLeft(synced)) {
      this.unmapIova(d, iova.right, iovaLen);
      return this.refuseSg(sgt, synced);
    }
    sgt.setNents(mergeDmaSegments(sgt, dev.dmaParms.maxSegmentSize, mask));
    return OK;
  }

  unmapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs: number): KResult<void> {
    const domain = this.domain(dev);
    if (E.isLeft(domain)) return domain;
    const d = domain.right;
    if (sgt.nents === 0) return fail('EINVAL', `${dev.name}: the scatterlist is not mapped`);
    const granule = lowestPgsize(d.pgsizeBitmap);
    const first = sgt.dmaAddress(0);
    const start = first - (first % granule);
    const range = d.iovad!.findIova(start / granule);
    if (range === undefined)
      return fail('EINVAL', `${dev.name}: ${hex(first)} is not a DMA address this device mapped`);
    if (!dev.coherent && !hasAttr(attrs, DmaAttr.SKIP_CPU_SYNC)) {
      for (let i = 0; i < sgt.origNents; i++) {
        const r = archSyncForCpu(this.platform.arch, this.platform.cache, sgt.phys(i), sgt.length(i), dir);
        if (E.isLeft(r)) return r;
      }
    }
    this.unmapIova(d, range.pfnLo * granule, (range.pfnHi - range.pfnLo + 1) * granule);
    return OK;
  }

  syncForCpu(dev: Device, dma: number, size: number, dir: DmaDirection): KResult<void> {
    return this.syncRange(dev, dma, size, (phys, n) =>
      archSyncForCpu(this.platform.arch, this.platform.cache, phys, n, dir),
    );
  }

  syncForDevice(dev: Device, dma: number, size: number, dir: DmaDirection): KResult<void> {
    return this.syncRange(dev, dma, size, (phys, n) =>
      archSyncForDevice(this.platform.arch, this.platform.cache, phys, n, dir),
    );
  }

  /** `iommu_dma_sync_sg_for_*`: arch maintenance on each entry's physical range (`sg_phys`). */
  syncSg(dev: Device, sgt: SgTable, dir: DmaDirection, to: 'cpu' | 'device', attrs = 0): KResult<void> {
    if (dev.coherent || hasAttr(attrs, DmaAttr.SKIP_CPU_SYNC)) return OK;
    const { arch, cache } = this.platform;
    for (let i = 0; i < sgt.origNents; i++) {
      const r =
        to === 'cpu'
          ? archSyncForCpu(arch, cache, sgt.phys(i), sgt.length(i), dir)
          : archSyncForDevice(arch, cache, sgt.phys(i), sgt.length(i), dir);
      if (E.isLeft(r)) return r;
    }
    return OK;
  }

  /** A refused map_sg leaves the table's DMA side cleared, as before the call. */
  private refuseSg<T>(sgt: SgTable, error: KResult<T>): KResult<never> {
    for (let i = 0; i < sgt.origNents; i++) sgt.setDma(i, 0, 0);
    return error as KResult<never>;
  }

  dmaToPhys(dev: Device, dma: number): number {
    const domain = this.iommu.domainOf(dev);
    return domain === undefined ? -1 : iommuIovaToPhys(domain, dma);
  }

  /**
   * `iommu_dma_alloc_iova`: below min(dma mask, bus limit, aperture end); PCI devices try below
   * 4 GiB first (single-address-cycle addresses). Size-aligned, as `alloc_iova_fast`. `align` is the
   * model's extension for dma-buf attachers that need a start alignment larger than the mapping:
   * the allocation is widened to it, and its size alignment does the rest.
   */
  allocIova(dev: Device, d: IommuDomain, len: number, align = 0): KResult<number> {
    const granule = lowestPgsize(d.pgsizeBitmap);
    const limit = Math.min(dmaDirectLimit(dev), d.geometry.apertureEnd);
    const pages = Math.max(len, align) / granule;
    if (limit > DMA_BIT_MASK_32 && dev.bus === 'pci') {
      const low = d.iovad!.allocIovaFast(pages, Math.floor(DMA_BIT_MASK_32 / granule), false);
      if (E.isRight(low)) return ok(low.right * granule);
    }
    const pfn = d.iovad!.allocIovaFast(pages, Math.floor(limit / granule), true);
    if (E.isLeft(pfn)) {
      return fail(
        'ENOMEM',
        `${dev.name}: no IOVA space for ${hex(len)} bytes below ${hex(limit)} in ${d.describe()}`,
        {
          device: dev.name,
          size: len,
          limit,
        },
      );
    }
    return ok(pfn.right * granule);
  }

  /**
   * Unmaps every mapped piece of an IOVA range (holes are skipped, as a range reserved with
   * `iova_alloc` may be only partly mapped), flushes the IOTLB once, and frees the IOVA.
   */
  unmapIova(d: IommuDomain, start: number, len: number): void {
    const granule = lowestPgsize(d.pgsizeBitmap);
    const gather = iommuIotlbGatherInit(d);
    for (let at = start; at < start + len; ) {
      const done = iommuUnmapFast(d, at, start + len - at, gather);
      at += done > 0 ? done : granule;
    }
    iommuIotlbSync(d, gather);
    d.iovad!.freeIovaFast(start / granule, len / granule);
  }

  /** The device's DMA domain, or an error when it has none. */
  domain(dev: Device): KResult<IommuDomain> {
    const d = this.iommu.domainOf(dev);
    if (d === undefined || d.type !== 'dma' || d.iovad === undefined) {
      return fail('ENODEV', `${dev.name} is not behind a DMA domain`, { device: dev.name });
    }
    return ok(d);
  }

  /** Runs `op` over the physical runs behind `[dma, dma + size)` (skipped for coherent devices). */
  private syncRange(
    dev: Device,
    dma: number,
    size: number,
    op: (phys: number, n: number) => KResult<void>,
  ): KResult<void> {
    if (dev.coherent) return OK;
    const domain = this.domain(dev);
    if (E.isLeft(domain)) return domain;
    for (let done = 0; done < size; ) {
      const at = dma + done;
      const phys = iommuIovaToPhys(domain.right, at);
      if (phys < 0)
        return fail('EINVAL', `${dev.name}: ${hex(at)} is not mapped`, { device: dev.name, dma: at });
      const n = Math.min(size - done, 4096 - (at % 4096));
      const r = op(phys, n);
      if (E.isLeft(r)) return r;
      done += n;
    }
    return OK;
  }
}

const alignUp = (x: number, a: number): number => Math.ceil(x / a) * a;
