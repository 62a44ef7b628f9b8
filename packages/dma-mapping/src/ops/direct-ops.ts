import { type Device, dmaDirectLimit, fail, hex, type KResult, ok, type Platform } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { DmaAttr, hasAttr } from '../attrs.js';
import type { DmaDirection } from '../debug/direction.js';
import type { SgTable } from '../scatterlist/sg-table.js';
import type { Swiotlb } from '../swiotlb/swiotlb.js';
import { archSyncForCpu, archSyncForDevice } from './arch-sync.js';
import type { DmaMapOps, DmaOpsKind } from './dma-ops.js';

const OK: KResult<void> = ok(undefined);

/** `dma_capable(dev, addr, size, true)`: the whole range is within the device's direct DMA limit. */
export const dmaCapable = (dev: Device, dma: number, size: number): boolean =>
  dma >= 0 && dma + Math.max(size, 1) - 1 <= dmaDirectLimit(dev);

/**
 * Direct mapping (`kernel/dma/direct.c`): the DMA address is the physical address less the
 * device's range offset. A buffer the device cannot reach is bounced through swiotlb when a pool
 * exists, else refused — never truncated. With `forceBounce`, every mapping is bounced (the
 * `swiotlb` ops: `is_swiotlb_force_bounce`, e.g. for untrusted devices).
 */
export class DirectOps implements DmaMapOps {
  readonly kind: DmaOpsKind;

  constructor(
    private readonly platform: Platform,
    private readonly swiotlb: Swiotlb | undefined,
    private readonly forceBounce: boolean,
  ) {
    this.kind = forceBounce ? 'swiotlb' : 'direct';
  }

  mapPhys(dev: Device, phys: number, size: number, dir: DmaDirection, attrs: number): KResult<number> {
    const dma = phys - dev.dmaRangeOffset;
    if (this.forceBounce || !dmaCapable(dev, dma, size)) {
      if (this.swiotlb === undefined) {
        return fail(
          'EIO',
          `${dev.name}: DMA addr ${hex(dma)}+${size} overflow (limit ${hex(dmaDirectLimit(dev))}) and no swiotlb to bounce through`,
          {
            device: dev.name,
            dma,
            size,
            limit: dmaDirectLimit(dev),
          },
        );
      }
      return this.bounce(dev, phys, size, dir, attrs);
    }
    const synced = this.syncDevice(dev, phys, size, dir, attrs);
    return E.isLeft(synced) ? synced : ok(dma);
  }

  unmapPhys(dev: Device, dma: number, size: number, dir: DmaDirection, attrs: number): KResult<void> {
    const phys = dma + dev.dmaRangeOffset;
    if (!hasAttr(attrs, DmaAttr.SKIP_CPU_SYNC)) {
      const synced = this.syncForCpu(dev, dma, size, dir);
      if (E.isLeft(synced)) return synced;
    }
    if (this.swiotlb?.isSwiotlbBuffer(phys)) {
      return this.swiotlb.unmapSingle(dev, phys, size, dir, attrs | DmaAttr.SKIP_CPU_SYNC);
    }
    return OK;
  }

  /**
   * `dma_direct_map_sg`: every entry mapped on its own (no merging). All entries are mapped before
   * any is synced, so a refused map leaves the cache and the table as they were.
   */
  mapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs: number): KResult<void> {
    for (let i = 0; i < sgt.origNents; i++) {
      const mapped = this.mapPhys(dev, sgt.phys(i), sgt.length(i), dir, attrs | DmaAttr.SKIP_CPU_SYNC);
      if (E.isLeft(mapped)) {
        this.undoSg(dev, sgt, i, dir);
        return mapped;
      }
      sgt.setDma(i, mapped.right, sgt.length(i));
    }
    if (!hasAttr(attrs, DmaAttr.SKIP_CPU_SYNC)) {
      const synced = this.syncSg(dev, sgt, dir, 'device');
      if (E.isLeft(synced)) {
        this.undoSg(dev, sgt, sgt.origNents, dir);
        return synced;
      }
    }
    sgt.setNents(sgt.origNents);
    return OK;
  }

  /** Unmaps the first `count` entries of a map_sg that failed, and clears the table's DMA side. */
  private undoSg(dev: Device, sgt: SgTable, count: number, dir: DmaDirection): void {
    for (let j = 0; j < count; j++)
      this.unmapPhys(dev, sgt.dmaAddress(j), sgt.length(j), dir, DmaAttr.SKIP_CPU_SYNC);
    for (let j = 0; j < sgt.origNents; j++) sgt.setDma(j, 0, 0);
  }

  unmapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs: number): KResult<void> {
    for (let i = 0; i < sgt.origNents; i++) {
      const r = this.unmapPhys(dev, sgt.dmaAddress(i), sgt.length(i), dir, attrs);
      if (E.isLeft(r)) return r;
    }
    return OK;
  }

  syncForCpu(dev: Device, dma: number, size: number, dir: DmaDirection): KResult<void> {
    const phys = dma + dev.dmaRangeOffset;
    if (!dev.coherent) {
      const r = archSyncForCpu(this.platform.arch, this.platform.cache, phys, size, dir);
      if (E.isLeft(r)) return r;
    }
    return this.swiotlb?.isSwiotlbBuffer(phys) ? this.swiotlb.syncForCpu(phys, size, dir) : OK;
  }

  syncForDevice(dev: Device, dma: number, size: number, dir: DmaDirection): KResult<void> {
    const phys = dma + dev.dmaRangeOffset;
    if (this.swiotlb?.isSwiotlbBuffer(phys)) {
      const r = this.swiotlb.syncForDevice(phys, size, dir);
      if (E.isLeft(r)) return r;
    }
    return dev.coherent ? OK : archSyncForDevice(this.platform.arch, this.platform.cache, phys, size, dir);
  }

  syncSg(dev: Device, sgt: SgTable, dir: DmaDirection, to: 'cpu' | 'device'): KResult<void> {
    for (let i = 0; i < sgt.origNents; i++) {
      const dma = sgt.dmaAddress(i);
      const r =
        to === 'cpu'
          ? this.syncForCpu(dev, dma, sgt.length(i), dir)
          : this.syncForDevice(dev, dma, sgt.length(i), dir);
      if (E.isLeft(r)) return r;
    }
    return OK;
  }

  dmaToPhys(dev: Device, dma: number): number {
    return dma + dev.dmaRangeOffset;
  }

  /** `swiotlb_map`: bounce into the pool, check the pool address is reachable, sync it. */
  private bounce(dev: Device, phys: number, size: number, dir: DmaDirection, attrs: number): KResult<number> {
    const swiotlb = this.swiotlb!;
    const tlb = swiotlb.mapSingle(dev, phys, size, dir, attrs);
    if (E.isLeft(tlb)) return tlb;
    const dma = tlb.right - dev.dmaRangeOffset;
    if (!dmaCapable(dev, dma, size)) {
      swiotlb.unmapSingle(dev, tlb.right, size, dir, attrs | DmaAttr.SKIP_CPU_SYNC);
      return fail(
        'EIO',
        `${dev.name}: swiotlb addr ${hex(dma)}+${size} overflow (limit ${hex(dmaDirectLimit(dev))})`,
        {
          device: dev.name,
          dma,
          size,
        },
      );
    }
    const synced = this.syncDevice(dev, tlb.right, size, dir, attrs);
    if (E.isLeft(synced)) {
      swiotlb.unmapSingle(dev, tlb.right, size, dir, attrs | DmaAttr.SKIP_CPU_SYNC);
      return synced;
    }
    return ok(dma);
  }

  private syncDevice(
    dev: Device,
    phys: number,
    size: number,
    dir: DmaDirection,
    attrs: number,
  ): KResult<void> {
    if (dev.coherent || hasAttr(attrs, DmaAttr.SKIP_CPU_SYNC)) return OK;
    return archSyncForDevice(this.platform.arch, this.platform.cache, phys, size, dir);
  }
}
