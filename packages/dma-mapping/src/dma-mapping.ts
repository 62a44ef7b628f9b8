import type { IommuCore } from '@sharedbuf/iommu';
import {
  type Device,
  EventBus,
  type KernelError,
  type KResult,
  ok,
  type Platform,
} from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { dmaAllocAttrs, dmaAllocNoncoherent, dmaFree } from './alloc/dma-alloc.js';
import type { DmaAllocation } from './alloc/dma-allocation.js';
import type { DmaDirection } from './debug/direction.js';
import { DmaDebug } from './debug/dma-debug.js';
import type { DmaDebugEvents } from './debug/events.js';
import type { DmaMappingEvents } from './dma-mapping-events.js';
import {
  dmaMapPageFixed,
  iovaAlloc,
  iovaAllocAt,
  iovaFree,
  mapPageAt,
  supportsFixedMapping,
} from './iova-api.js';
import { DirectOps } from './ops/direct-ops.js';
import type { DmaMapOps, DmaOpsKind } from './ops/dma-ops.js';
import { IommuOps } from './ops/iommu-ops.js';
import type { SgTable } from './scatterlist/sg-table.js';
import type { Swiotlb } from './swiotlb/swiotlb.js';

/** `DMA_MAPPING_ERROR`: what a failed streaming map returns; test it with `dmaMappingError`. */
export const DMA_MAPPING_ERROR = -1;

/** How the DMA API is wired on a machine. */
export interface DmaMappingOptions {
  readonly platform: Platform;
  /** The IOMMU core; devices behind a DMA domain use IOMMU-backed ops. */
  readonly iommu?: IommuCore;
  /** The bounce-buffer pool; without one, a buffer a device cannot reach is refused. */
  readonly swiotlb?: Swiotlb;
  /** DMA debug: on (default), off, or a checker of the caller's. Switch at runtime with `debug.enabled`. */
  readonly debug?: boolean | DmaDebug;
  /** Devices whose every mapping is bounced (`is_swiotlb_force_bounce`: untrusted devices, restricted pools). */
  readonly forceBounce?: readonly string[];
}

/**
 * The DMA API of one machine (`include/linux/dma-mapping.h`): it picks the ops for each device
 * (`get_dma_ops(dev)` — direct, swiotlb or IOMMU-backed, seed 001), and runs every entry point
 * through DMA debug. Streaming maps keep the kernel's contract — an address that must be checked
 * with {@link dmaMappingError} — and also come in `KResult` form.
 */
export class DmaMapping {
  readonly platform: Platform;
  readonly bus = new EventBus<DmaMappingEvents>('dma-mapping');
  /** DMA debug; `debug.enabled = false` turns it off for speed. */
  readonly debug: DmaDebug;
  readonly direct: DirectOps;
  readonly bounce: DirectOps;
  readonly iommuOps: IommuOps | undefined;
  private readonly forceBounce: ReadonlySet<string>;
  private readonly errors = new Map<Device, KernelError>();
  private readonly seen = new Map<string, Device>();
  /** Inside an entry point, the model's own CPU copies (bounces) are not driver accesses. */
  private internal = 0;

  constructor(readonly options: DmaMappingOptions) {
    this.platform = options.platform;
    this.debug =
      options.debug instanceof DmaDebug
        ? options.debug
        : new DmaDebug(new EventBus<DmaDebugEvents>('dma-debug'), {
            enabled: options.debug !== false,
            isMappingError: (_dev, addr) => addr === DMA_MAPPING_ERROR,
          });
    this.direct = new DirectOps(this.platform, options.swiotlb, false);
    this.bounce = new DirectOps(this.platform, options.swiotlb, true);
    this.iommuOps = options.iommu ? new IommuOps(this.platform, options.iommu) : undefined;
    this.forceBounce = new Set(options.forceBounce ?? []);
    this.watchDevicesAndCpu();
  }

  /** The ops serving a device now (`get_dma_ops`): IOMMU-backed behind a DMA domain, else direct or swiotlb. */
  getDmaOps(dev: Device): DmaMapOps {
    const domain = this.options.iommu?.domainOf(dev);
    if (domain?.type === 'dma' && this.iommuOps) return this.iommuOps;
    return this.forceBounce.has(dev.name) ? this.bounce : this.direct;
  }

  /** The kind of ops serving a device. */
  opsKind(dev: Device): DmaOpsKind {
    return this.getDmaOps(dev).kind;
  }

  /**
   * `dma_map_page_attrs` / `dma_map_single_attrs`: maps `[phys, phys + size)` for the device and hands
   * it over to the device (cache maintenance done unless `SKIP_CPU_SYNC`). Returns the DMA address, or
   * {@link DMA_MAPPING_ERROR} — the reason is kept for {@link lastError}. Check it with
   * {@link dmaMappingError}; DMA debug reports mappings that were never checked.
   */
  dmaMapPageAttrs(dev: Device, phys: number, size: number, dir: DmaDirection, attrs = 0): number {
    const ops = this.getDmaOps(dev);
    const mapped = this.run(() => ops.mapPhys(dev, phys, size, dir, attrs));
    if (E.isLeft(mapped)) {
      this.errors.set(dev, mapped.left);
      this.bus.emit('map-error', {
        device: dev.name,
        ops: ops.kind,
        phys,
        size,
        code: mapped.left.code,
        message: mapped.left.message,
      });
      return DMA_MAPPING_ERROR;
    }
    this.seen.set(dev.name, dev);
    this.debug.debugDmaMapPage(dev, phys, size, dir, mapped.right, attrs);
    if (this.bus.active) {
      const bounced = ops.dmaToPhys(dev, mapped.right) !== phys;
      this.bus.emit('map', { device: dev.name, ops: ops.kind, phys, dma: mapped.right, size, dir, bounced });
    }
    return mapped.right;
  }

  /** `dma_mapping_error`: true for a failed map; tells DMA debug the driver checked. */
  dmaMappingError(dev: Device, dma: number): boolean {
    this.debug.debugDmaMappingError(dev, dma);
    return dma === DMA_MAPPING_ERROR;
  }

  /** Why the device's last streaming map failed. */
  lastError(dev: Device): KernelError | undefined {
    return this.errors.get(dev);
  }

  /** Map and check in one call: the DMA address, or the reason it failed. */
  mapPage(dev: Device, phys: number, size: number, dir: DmaDirection, attrs = 0): KResult<number> {
    const dma = this.dmaMapPageAttrs(dev, phys, size, dir, attrs);
    return this.dmaMappingError(dev, dma) ? E.left(this.errors.get(dev)!) : ok(dma);
  }

  /**
   * `dma_unmap_page_attrs`: hands the buffer back to the CPU (cache maintenance, bounce-out) and
   * frees the mapping. DMA debug checks it first; an address the ops do not know is EINVAL and
   * changes nothing.
   */
  dmaUnmapPageAttrs(dev: Device, dma: number, size: number, dir: DmaDirection, attrs = 0): KResult<void> {
    this.debug.debugDmaUnmapPage(dev, dma, size, dir);
    const r = this.run(() => this.getDmaOps(dev).unmapPhys(dev, dma, size, dir, attrs));
    if (E.isRight(r)) this.bus.emit('unmap', { device: dev.name, dma, size, dir });
    return r;
  }

  /**
   * `dma_map_sgtable`: maps every entry; IOMMU-backed ops merge DMA-contiguous entries into fewer
   * segments within the device's `dma_parms`. Errors as the ops (EIO unreachable, ENOMEM no IOVA).
   * `iovaAlign` is the model's extension for exporters honouring an attacher's alignment: an
   * IOMMU-backed mapping then starts on a multiple of it (ignored by direct ops, whose addresses
   * are the pages').
   */
  dmaMapSgtable(dev: Device, sgt: SgTable, dir: DmaDirection, attrs = 0, iovaAlign = 0): KResult<void> {
    const ops = this.getDmaOps(dev);
    const r = this.run(() => ops.mapSg(dev, sgt, dir, attrs, iovaAlign));
    if (E.isLeft(r)) return r;
    this.seen.set(dev.name, dev);
    if (this.debug.enabled)
      this.debug.debugDmaMapSg(dev, sgt.entries(), sgt.origNents, sgt.nents, dir, attrs);
    if (this.bus.active)
      this.bus.emit('map-sg', {
        device: dev.name,
        ops: ops.kind,
        origNents: sgt.origNents,
        nents: sgt.nents,
        dir,
      });
    return r;
  }

  /** `dma_unmap_sgtable`. */
  dmaUnmapSgtable(dev: Device, sgt: SgTable, dir: DmaDirection, attrs = 0): KResult<void> {
    if (this.debug.enabled) this.debug.debugDmaUnmapSg(dev, sgt.entries(), sgt.origNents, dir);
    const r = this.run(() => this.getDmaOps(dev).unmapSg(dev, sgt, dir, attrs));
    if (E.isRight(r)) {
      if (this.bus.active) this.bus.emit('unmap-sg', { device: dev.name, nents: sgt.nents, dir });
      sgt.setNents(0);
    }
    return r;
  }

  /** `dma_sync_single_for_cpu`: the CPU takes `[dma, dma + size)` back (direction as mapped). */
  dmaSyncSingleForCpu(dev: Device, dma: number, size: number, dir: DmaDirection): KResult<void> {
    this.debug.debugDmaSyncSingleForCpu(dev, dma, size, dir);
    return this.syncSingle(dev, dma, size, dir, 'cpu');
  }

  /** `dma_sync_single_for_device`: the device gets `[dma, dma + size)` back. */
  dmaSyncSingleForDevice(dev: Device, dma: number, size: number, dir: DmaDirection): KResult<void> {
    this.debug.debugDmaSyncSingleForDevice(dev, dma, size, dir);
    return this.syncSingle(dev, dma, size, dir, 'device');
  }

  /** `dma_sync_sgtable_for_cpu`: every CPU-side entry goes back to the CPU. */
  dmaSyncSgtableForCpu(dev: Device, sgt: SgTable, dir: DmaDirection): KResult<void> {
    if (this.debug.enabled) this.debug.debugDmaSyncSgForCpu(dev, sgt.entries(), sgt.origNents, dir);
    return this.syncSg(dev, sgt, dir, 'cpu');
  }

  /** `dma_sync_sgtable_for_device`. */
  dmaSyncSgtableForDevice(dev: Device, sgt: SgTable, dir: DmaDirection): KResult<void> {
    if (this.debug.enabled) this.debug.debugDmaSyncSgForDevice(dev, sgt.entries(), sgt.origNents, dir);
    return this.syncSg(dev, sgt, dir, 'device');
  }

  /** `dma_alloc_attrs`: see {@link dmaAllocAttrs}. */
  dmaAllocAttrs(dev: Device, size: number, attrs = 0): KResult<DmaAllocation> {
    return dmaAllocAttrs(this, dev, size, attrs);
  }

  /** `dma_free_attrs`. */
  dmaFreeAttrs(buf: DmaAllocation): KResult<void> {
    return dmaFree(this, buf);
  }

  /** `dma_alloc_noncoherent`: see {@link dmaAllocNoncoherent}. */
  dmaAllocNoncoherent(dev: Device, size: number, dir: DmaDirection): KResult<DmaAllocation> {
    return dmaAllocNoncoherent(this, dev, size, dir);
  }

  /** `dma_free_noncoherent`. */
  dmaFreeNoncoherent(buf: DmaAllocation): KResult<void> {
    return dmaFree(this, buf);
  }

  /** Extension (seed 000): can this device's ops honour `DMA_ATTR_FIXED_MAPPING`? */
  supportsFixedMapping(dev: Device): boolean {
    return supportsFixedMapping(this, dev);
  }

  /** Extension (seed 000): a streaming map at a caller-chosen IOVA; see {@link dmaMapPageFixed}. */
  dmaMapPageFixed(
    dev: Device,
    phys: number,
    iova: number,
    size: number,
    dir: DmaDirection,
    attrs = 0,
  ): KResult<number> {
    return dmaMapPageFixed(this, dev, phys, iova, size, dir, attrs);
  }

  /** Extension (seed 004): `iova_alloc`. */
  iovaAlloc(dev: Device, size: number): KResult<number> {
    return iovaAlloc(this, dev, size);
  }

  /** Extension (seed 004): `iova_alloc_at`. */
  iovaAllocAt(dev: Device, iova: number, size: number): KResult<number> {
    return iovaAllocAt(this, dev, iova, size);
  }

  /** Extension (seed 004): `iova_free`. */
  iovaFree(dev: Device, iova: number, size: number): KResult<void> {
    return iovaFree(this, dev, iova, size);
  }

  /** Extension (seed 004): `map_page_at`. */
  mapPageAt(
    dev: Device,
    phys: number,
    iova: number,
    size: number,
    dir: DmaDirection,
    attrs = 0,
  ): KResult<void> {
    return mapPageAt(this, dev, phys, iova, size, dir, attrs);
  }

  /** Runs an entry point's body with the model's own CPU copies hidden from DMA debug. */
  run<T>(body: () => KResult<T>): KResult<T> {
    this.internal += 1;
    try {
      return body();
    } finally {
      this.internal -= 1;
    }
  }

  /** Remembers a device the DMA API served (for unbind leak checks). */
  noteDevice(dev: Device): void {
    this.seen.set(dev.name, dev);
  }

  private syncSingle(
    dev: Device,
    dma: number,
    size: number,
    dir: DmaDirection,
    to: 'cpu' | 'device',
  ): KResult<void> {
    const ops = this.getDmaOps(dev);
    const r = this.run(() =>
      to === 'cpu' ? ops.syncForCpu(dev, dma, size, dir) : ops.syncForDevice(dev, dma, size, dir),
    );
    if (E.isRight(r) && this.bus.active) this.bus.emit('sync', { device: dev.name, dma, size, dir, to });
    return r;
  }

  private syncSg(dev: Device, sgt: SgTable, dir: DmaDirection, to: 'cpu' | 'device'): KResult<void> {
    const r = this.run(() => this.getDmaOps(dev).syncSg(dev, sgt, dir, to));
    if (E.isRight(r) && this.bus.active) {
      this.bus.emit('sync', { device: dev.name, dma: sgt.dmaAddress(0), size: sgt.totalLength, dir, to });
    }
    return r;
  }

  /**
   * Whether the DMA API owns the address space of this access: DMA without an IOMMU, or through a
   * DMA domain. PASID-tagged accesses (SVA, a process page table) and devices a driver attached to
   * a domain of its own through the IOMMU API are outside it, so DMA debug does not judge them.
   */
  private managesAddressSpace(dev: Device, pasid: number): boolean {
    if (pasid >= 0) return false;
    const domain = this.options.iommu?.domainOf(dev);
    return domain === undefined || domain.type === 'dma';
  }

  /** DMA debug's view of the hardware: device DMA, CPU accesses, unbinds. */
  private watchDevicesAndCpu(): void {
    const { device } = this.platform.buses;
    const onDma =
      (write: boolean) => (e: { device: string; busAddr: number; length: number; pasid: number }) => {
        const dev = this.platform.devices.get(e.device);
        if (dev !== undefined && this.debug.enabled && this.managesAddressSpace(dev, e.pasid)) {
          this.debug.debugDeviceDma(dev, e.busAddr, e.length, write);
        }
      };
    device.on('dma-read', onDma(false));
    device.on('dma-write', onDma(true));
    device.on('device-remove', (e) => {
      const dev = this.seen.get(e.device);
      if (dev !== undefined) this.debug.debugDeviceUnbind(dev);
    });
    this.platform.cpu.observer = (addr, length, write) => {
      if (this.internal === 0 && this.debug.enabled)
        this.debug.debugCpuAccess(undefined, addr, length, write);
    };
  }
}
