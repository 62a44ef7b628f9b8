import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, iommuMap, lowestPgsize } from '@sharedbuf/iommu';
import { type Device, fail, type KResult, maskLimit, ok, PAGE_SIZE } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { DmaAttr, hasAttr } from '../attrs.js';
import { DmaDirection } from '../debug/direction.js';
import type { DmaMapping } from '../dma-mapping.js';
import { allocContiguous, allocScattered, freeGathered, type GatheredPages } from './alloc-pages.js';
import { CpuView } from './cpu-view.js';
import type { DmaAllocation } from './dma-allocation.js';

/**
 * `dma_alloc_attrs`: a buffer both the CPU and the device may use at any time. Without an IOMMU the
 * pages are contiguous and below the device's *coherent* mask (`dma_direct_alloc`); behind a DMA
 * domain they may scatter and the IOMMU makes them contiguous (`iommu_dma_alloc`). For a
 * non-coherent device the CPU view is uncached (write-combined with `WRITE_COMBINE`) and the cache is
 * cleaned and invalidated first (`arch_dma_prep_coherent`); `NO_KERNEL_MAPPING` gives no CPU view.
 * Errors: ENOMEM with detail; EIO when the memory found is still out of the device's reach.
 */
export const dmaAllocAttrs = (
  dma: DmaMapping,
  dev: Device,
  size: number,
  attrs: number,
): KResult<DmaAllocation> => allocate(dma, dev, size, attrs, 'coherent');

/**
 * `dma_alloc_noncoherent`: pages mapped for the device with a *cached* CPU view: the caller owns the
 * cache maintenance, with `dma_sync_single_for_{device,cpu}` on the returned address.
 */
export const dmaAllocNoncoherent = (
  dma: DmaMapping,
  dev: Device,
  size: number,
  dir: DmaDirection,
): KResult<DmaAllocation> => allocate(dma, dev, size, 0, 'noncoherent', dir);

/** `dma_free_attrs` / `dma_free_noncoherent`: unmaps and frees. EINVAL for a buffer already freed. */
export const dmaFree = (dma: DmaMapping, buf: DmaAllocation): KResult<void> => {
  if (!live.has(buf))
    return fail('EINVAL', `${buf.device.name}: DMA buffer at ${buf.dmaAddr.toString(16)} was already freed`);
  if (buf.kind === 'coherent')
    dma.debug.debugDmaFreeCoherent(buf.device, buf.size, buf.chunks[0]!.phys, buf.dmaAddr);
  else
    dma.debug.debugDmaFreePages(
      buf.device,
      buf.chunks[0]!.phys,
      buf.size,
      DmaDirection.BIDIRECTIONAL,
      buf.dmaAddr,
    );
  const ops = dma.getDmaOps(buf.device);
  if (ops.kind === 'iommu') {
    const d = dma.iommuOps!.domain(buf.device);
    if (E.isRight(d)) {
      const g = lowestPgsize(d.right.pgsizeBitmap);
      dma.iommuOps!.unmapIova(d.right, buf.dmaAddr, Math.ceil(buf.size / g) * g);
    }
  }
  freeGathered(dma.platform, { chunks: [...buf.chunks], backing: [...buf.backing] });
  live.delete(buf);
  dma.bus.emit('free', { device: buf.device.name, kind: buf.kind, size: buf.size, dma: buf.dmaAddr });
  return ok(undefined);
};

const live = new WeakSet<DmaAllocation>();

const allocate = (
  dma: DmaMapping,
  dev: Device,
  size: number,
  attrs: number,
  kind: 'coherent' | 'noncoherent',
  dir: DmaDirection = DmaDirection.BIDIRECTIONAL,
): KResult<DmaAllocation> => {
  if (!(size > 0)) return fail('EINVAL', `${dev.name}: DMA allocation of ${size} bytes`);
  const iommu = dma.getDmaOps(dev).kind === 'iommu';
  const pages = iommu ? iommuPages(dma, size, attrs) : directPages(dma, dev, size);
  if (E.isLeft(pages)) return pages;
  const placed = iommu ? mapThroughIommu(dma, dev, size, pages.right) : directAddress(dev, pages.right);
  if (E.isLeft(placed)) {
    freeGathered(dma.platform, pages.right);
    return placed;
  }
  const { chunks, backing } = pages.right;
  if (!dev.coherent && kind === 'coherent') {
    for (const c of chunks) dma.platform.cache.cleanInvalidate(c.phys, c.length);
  }
  const attr =
    kind === 'noncoherent' || dev.coherent
      ? 'cached'
      : hasAttr(attrs, DmaAttr.WRITE_COMBINE)
        ? 'write-combine'
        : 'uncached';
  const cpu = hasAttr(attrs, DmaAttr.NO_KERNEL_MAPPING)
    ? undefined
    : new CpuView(dma.platform.cpu, trim(chunks, size), attr);
  const buf: DmaAllocation = { device: dev, size, dmaAddr: placed.right, chunks, backing, cpu, kind, attrs };
  live.add(buf);
  dma.noteDevice(dev);
  if (kind === 'coherent') dma.debug.debugDmaAllocCoherent(dev, size, buf.dmaAddr, chunks[0]!.phys, attrs);
  else dma.debug.debugDmaAllocPages(dev, chunks[0]!.phys, size, dir, buf.dmaAddr, attrs);
  dma.bus.emit('alloc', {
    device: dev.name,
    kind,
    size,
    dma: buf.dmaAddr,
    chunks: chunks.length,
    cpuView: cpu ? attr : 'none',
  });
  return ok(buf);
};

/** The highest DMA address of a coherent allocation: `min_not_zero(coherent_dma_mask, bus_dma_limit)`. */
const coherentLimit = (dev: Device): number =>
  Math.min(maskLimit(dev.coherentDmaMask), dev.busDmaLimit === 0 ? Number.MAX_SAFE_INTEGER : dev.busDmaLimit);

/** Contiguous pages below the coherent limit, in physical terms. */
const directPages = (dma: DmaMapping, dev: Device, size: number): KResult<GatheredPages> =>
  allocContiguous(dma.platform, size, coherentLimit(dev) + dev.dmaRangeOffset);

const iommuPages = (dma: DmaMapping, size: number, attrs: number): KResult<GatheredPages> =>
  hasAttr(attrs, DmaAttr.FORCE_CONTIGUOUS)
    ? allocContiguous(dma.platform, size, Number.MAX_SAFE_INTEGER)
    : allocScattered(dma.platform, size, hasAttr(attrs, DmaAttr.ALLOC_SINGLE_PAGES));

const directAddress = (dev: Device, pages: GatheredPages): KResult<number> => {
  const c = pages.chunks[0]!;
  const addr = c.phys - dev.dmaRangeOffset;
  if (addr < 0 || addr + c.length - 1 > coherentLimit(dev)) {
    return fail('EIO', `${dev.name}: coherent buffer at ${addr.toString(16)} is beyond the coherent mask`, {
      device: dev.name,
    });
  }
  return ok(addr);
};

const mapThroughIommu = (
  dma: DmaMapping,
  dev: Device,
  size: number,
  pages: GatheredPages,
): KResult<number> => {
  const ops = dma.iommuOps!;
  const d = ops.domain(dev);
  if (E.isLeft(d)) return d;
  const g = lowestPgsize(d.right.pgsizeBitmap);
  const len = Math.ceil(size / g) * g;
  const iova = ops.allocIova(dev, d.right, len);
  if (E.isLeft(iova)) return iova;
  const prot = IOMMU_READ | IOMMU_WRITE | (dev.coherent ? IOMMU_CACHE : 0);
  let at = 0;
  for (const c of pages.chunks) {
    const n = Math.min(c.length, len - at);
    const r = iommuMap(d.right, iova.right + at, c.phys, n, prot);
    if (E.isLeft(r)) {
      ops.unmapIova(d.right, iova.right, len);
      return r;
    }
    at += n;
  }
  return ok(iova.right);
};

/** The chunks cut to the requested size (blocks may be larger than asked). */
const trim = (chunks: readonly { phys: number; length: number }[], size: number) => {
  const out: { phys: number; length: number }[] = [];
  let left = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  for (const c of chunks) {
    if (left <= 0) break;
    out.push({ phys: c.phys, length: Math.min(c.length, left) });
    left -= c.length;
  }
  return out;
};
