import { type IommuDomain, iommuMap, iommuUnmap, lowestPgsize } from '@sharedbuf/iommu';
import { type Device, fail, hex, type KResult, ok } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { DmaAttr, hasAttr } from './attrs.js';
import type { DmaDirection } from './debug/direction.js';
import type { DmaMapping } from './dma-mapping.js';
import { archSyncForDevice } from './ops/arch-sync.js';
import { dmaInfoToProt } from './ops/iommu-ops.js';

/**
 * Extensions the seeds proposed and Linux never merged, built as proposed:
 * - seed 000 (Arnd Bergmann): `DMA_ATTR_FIXED_MAPPING` — the caller chooses the IOVA as well as the
 *   page — with a capability query, since only IOMMU-backed ops can honour it;
 * - seed 004 (Hiroshi Doyu, Tegra): `iova_alloc`, `iova_alloc_at`, `iova_free` and `map_page_at`
 *   through the DMA API, so a driver can allocate IOVA space and map into it separately.
 * All of them act on the device's DMA domain and its IOVA allocator, so ordinary DMA API mappings
 * never collide with them.
 */

/** Pieces mapped with {@link mapPageAt}, per domain, so `iova_free` can tell DMA debug they are gone. */
const placed = new WeakMap<IommuDomain, Map<number, { size: number; dir: DmaDirection }>>();

const piecesOf = (d: IommuDomain): Map<number, { size: number; dir: DmaDirection }> => {
  let m = placed.get(d);
  if (m === undefined) {
    m = new Map();
    placed.set(d, m);
  }
  return m;
};

/** Whether the device's ops can place a mapping at a caller-chosen IOVA. */
export const supportsFixedMapping = (dma: DmaMapping, dev: Device): boolean => dma.opsKind(dev) === 'iommu';

/** `iova_alloc`: reserves `size` bytes of the device's IOVA space, placed by the allocator. */
export const iovaAlloc = (dma: DmaMapping, dev: Device, size: number): KResult<number> => {
  const d = domainOf(dma, dev);
  if (E.isLeft(d)) return d;
  const g = lowestPgsize(d.right.pgsizeBitmap);
  const r = dma.iommuOps!.allocIova(dev, d.right, Math.ceil(size / g) * g);
  if (E.isRight(r)) dma.bus.emit('iova-alloc', { device: dev.name, iova: r.right, size, fixed: false });
  return r;
};

/** `iova_alloc_at`: reserves `[iova, iova + size)` exactly. EEXIST (from the allocator) when any of it is taken. */
export const iovaAllocAt = (dma: DmaMapping, dev: Device, iova: number, size: number): KResult<number> => {
  const d = domainOf(dma, dev);
  if (E.isLeft(d)) return d;
  const g = lowestPgsize(d.right.pgsizeBitmap);
  if (iova % g !== 0) return fail('EINVAL', `${hex(iova)} is not aligned to the IOMMU page size ${hex(g)}`);
  const r = d.right.iovad!.allocIovaAt(iova / g, Math.ceil(size / g));
  if (E.isLeft(r)) return r;
  dma.bus.emit('iova-alloc', { device: dev.name, iova, size, fixed: true });
  return ok(iova);
};

/** `iova_free`: unmaps whatever is still mapped in an IOVA range from {@link iovaAlloc} / {@link iovaAllocAt} and releases it. */
export const iovaFree = (dma: DmaMapping, dev: Device, iova: number, size: number): KResult<void> => {
  const d = domainOf(dma, dev);
  if (E.isLeft(d)) return d;
  const g = lowestPgsize(d.right.pgsizeBitmap);
  const range = d.right.iovad!.findIova(iova / g);
  if (
    range === undefined ||
    range.pfnLo * g !== iova ||
    (range.pfnHi + 1 - range.pfnLo) * g !== Math.ceil(size / g) * g
  ) {
    return fail('EINVAL', `${dev.name}: ${hex(iova)}+${hex(size)} is not an allocated IOVA range`);
  }
  const end = (range.pfnHi + 1) * g;
  const pieces = piecesOf(d.right);
  for (const [at, piece] of pieces) {
    if (at >= iova && at < end) {
      dma.debug.debugDmaUnmapPage(dev, at, piece.size, piece.dir);
      pieces.delete(at);
    }
  }
  dma.iommuOps!.unmapIova(d.right, iova, end - iova);
  dma.bus.emit('iova-free', { device: dev.name, iova, size });
  return ok(undefined);
};

/**
 * `map_page_at`: maps `[phys, phys + size)` at an IOVA the caller allocated, with the direction's
 * permissions and the cache maintenance of a streaming map (unless `SKIP_CPU_SYNC`). EINVAL when the
 * IOVA was not allocated; EEXIST when already mapped.
 */
export const mapPageAt = (
  dma: DmaMapping,
  dev: Device,
  phys: number,
  iova: number,
  size: number,
  dir: DmaDirection,
  attrs = 0,
): KResult<void> => {
  const d = domainOf(dma, dev);
  if (E.isLeft(d)) return d;
  const g = lowestPgsize(d.right.pgsizeBitmap);
  const range = d.right.iovad!.findIova(iova / g);
  if (range === undefined || (range.pfnHi + 1) * g < iova + size) {
    return fail('EINVAL', `${dev.name}: ${hex(iova)}+${hex(size)} is not inside an allocated IOVA range`);
  }
  const mapped = iommuMap(
    d.right,
    iova,
    phys,
    Math.ceil(size / g) * g,
    dmaInfoToProt(dir, dev.coherent, attrs),
  );
  if (E.isLeft(mapped)) return mapped;
  // Synced once mapped, so that a refused map leaves the cache alone.
  if (!dev.coherent && !hasAttr(attrs, DmaAttr.SKIP_CPU_SYNC)) {
    const synced = archSyncForDevice(dma.platform.arch, dma.platform.cache, phys, size, dir);
    if (E.isLeft(synced)) {
      iommuUnmap(d.right, iova, Math.ceil(size / g) * g);
      return synced;
    }
  }
  if (!hasAttr(attrs, DmaAttr.FIXED_MAPPING)) {
    // Tracked like any streaming mapping; iova_free tells DMA debug when it goes.
    piecesOf(d.right).set(iova, { size, dir });
    dma.noteDevice(dev);
    dma.debug.debugDmaMapPage(dev, phys, size, dir, iova, attrs);
    dma.debug.debugDmaMappingError(dev, iova);
  }
  return mapped;
};

/**
 * A streaming map at a caller-chosen IOVA (`DMA_ATTR_FIXED_MAPPING`): allocates exactly that IOVA,
 * maps, and returns it; unmap it with `dmaUnmapPageAttrs` like any mapping. EOPNOTSUPP when the
 * device's ops cannot (check {@link supportsFixedMapping}); EEXIST when the IOVA is taken.
 */
export const dmaMapPageFixed = (
  dma: DmaMapping,
  dev: Device,
  phys: number,
  iova: number,
  size: number,
  dir: DmaDirection,
  attrs = 0,
): KResult<number> => {
  const at = iovaAllocAt(dma, dev, iova, size);
  if (E.isLeft(at)) return at;
  const mapped = mapPageAt(dma, dev, phys, iova, size, dir, attrs | DmaAttr.FIXED_MAPPING);
  if (E.isLeft(mapped)) {
    iovaFree(dma, dev, iova, size);
    return mapped;
  }
  dma.noteDevice(dev);
  dma.debug.debugDmaMapPage(dev, phys, size, dir, iova, attrs | DmaAttr.FIXED_MAPPING);
  dma.debug.debugDmaMappingError(dev, iova);
  return ok(iova);
};

const domainOf = (dma: DmaMapping, dev: Device): KResult<IommuDomain> =>
  supportsFixedMapping(dma, dev)
    ? dma.iommuOps!.domain(dev)
    : fail(
        'EOPNOTSUPP',
        `${dev.name} uses ${dma.opsKind(dev)} DMA ops, which cannot place IOVAs (no IOMMU DMA domain)`,
        {
          device: dev.name,
        },
      );
