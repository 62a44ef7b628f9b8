import {
  alignUp,
  type Device,
  dmaDirectLimit,
  EventBus,
  hex,
  type KernelError,
  type KResult,
  kernelError,
  ok,
  type PhysicalMemory,
} from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { DmaAttr, hasAttr } from '../attrs.js';
import { hasSkipCpuSync } from '../debug/attrs.js';
import { DmaDirection } from '../debug/direction.js';
import { swiotlbAlignOffset, swiotlbMaxMappingSize } from './align.js';
import { BounceCopier } from './bounce-copier.js';
import { BounceMappings, type SwiotlbMapping } from './bounce-mappings.js';
import type { BounceDirection, SwiotlbEvents } from './events.js';
import { IO_TLB_SIZE, nrSlots, SWIOTLB_MODEL_DEFAULT_SIZE } from './io-tlb.js';
import { IoTlbSlots } from './io-tlb-slots.js';
import { directionProblem, mapProblem } from './map-checks.js';
import { reservePoolMemory, type SwiotlbHost } from './pool-memory.js';
import { BounceCounters, type SwiotlbBounceCounts, type SwiotlbStats } from './stats.js';

const OK: KResult<void> = ok(undefined);
const ZERO_COUNTS: SwiotlbBounceCounts = new BounceCounters().snapshot();

/** Set-up of a {@link Swiotlb}. */
export interface SwiotlbOptions {
  /**
   * Pool size in bytes, a multiple of one segment (256 KiB). Default 4 MiB
   * ({@link SWIOTLB_MODEL_DEFAULT_SIZE}); Linux's default is 64 MiB (`IO_TLB_DEFAULT_SIZE`).
   */
  readonly size?: number;
  /**
   * Physical base of memory the caller reserved for the pool (a carveout, a CMA range), page-aligned.
   * When absent the pool is one buddy block below 4 GiB taken from the host's page allocator, which
   * limits its size to a power of two up to 4 MiB.
   */
  readonly base?: number;
  /** The bus to emit on; a new one with source `swiotlb` by default. */
  readonly events?: EventBus<SwiotlbEvents>;
}

/**
 * The software IO TLB (`struct io_tlb_mem` with its one default `struct io_tlb_pool`,
 * `kernel/dma/swiotlb.c`): a pool of physically contiguous memory, cut into 2 KiB slots grouped in
 * segments of 128, through which streaming DMA is bounced for a device that cannot reach the
 * original buffer (or must not, with forced bouncing). The CPU copies the data into a bounce buffer
 * at map time and back at unmap, and `sync` calls copy in between.
 *
 * Modelled on Linux 6.9 and later: `swiotlb_search_pool_area()` with the reworked alignment rules
 * (page alignment only when the device has no `min_align_mask`), `pad_slots` for alignments wider
 * than a slot, and the unconditional bounce-in at map time. Not modelled: several areas (per-CPU
 * locking only spreads contention; one area searches the same way) and dynamic pools
 * (`CONFIG_SWIOTLB_DYNAMIC`).
 *
 * Where the kernel would warn and go on, or corrupt its tables (an unmap of an address that is not
 * a mapping, a sync past a mapping's end), the model refuses with EINVAL and changes nothing. Every
 * failed call changes nothing: in particular a mapping whose slots the device cannot reach is
 * refused before its slots are taken or any byte copied, and the search cursor does not move.
 */
export class Swiotlb {
  /** The pool's events (map, unmap, bounce, full, unreachable, hiwater-reset). */
  readonly events: EventBus<SwiotlbEvents>;
  /** First byte of the pool (`pool->start`). */
  readonly start: number;
  /** First byte after the pool (`pool->end`). */
  readonly end: number;
  /** Slots in the pool (`pool->nslabs`). */
  readonly nslabs: number;

  private readonly memory: PhysicalMemory;
  private readonly slots: IoTlbSlots;
  private readonly maps: BounceMappings;
  private readonly copier: BounceCopier;
  private readonly totals = new BounceCounters();
  private readonly perDevice = new Map<string, BounceCounters>();
  private hiwater = 0;
  private fullCount = 0;

  /**
   * Reserves and zeroes the pool (see {@link SwiotlbOptions}); pass a `Platform` as `host`.
   * @throws RangeError for a bad size or base; Error when the page allocator has no block for it.
   */
  constructor(host: SwiotlbHost, options: SwiotlbOptions = {}) {
    const size = options.size ?? SWIOTLB_MODEL_DEFAULT_SIZE;
    this.start = reservePoolMemory(host, size, options.base);
    this.end = this.start + size;
    this.nslabs = size / IO_TLB_SIZE;
    this.memory = host.memory;
    this.slots = new IoTlbSlots(this.nslabs);
    this.maps = new BounceMappings(this.nslabs);
    this.copier = new BounceCopier(host.cpu);
    this.events = options.events ?? new EventBus<SwiotlbEvents>('swiotlb');
  }

  /**
   * `swiotlb_map()` (`kernel/dma/swiotlb.c`): bounces `size` bytes at `origPhys` for `device` and
   * returns the bounce buffer's physical address (the DMA layer turns it into a bus address and does
   * the cache maintenance on it). The buffer keeps the original's address bits under the device's
   * `min_align_mask`; the original is copied in whatever the direction — also for FROM_DEVICE, so a
   * device that writes only part of the buffer leaves the rest as it was, as without bouncing, and
   * reads no stale pool data (`swiotlb_tbl_map_single()` since 2022's "swiotlb: fix info leak with
   * DMA_FROM_DEVICE" and its rework in Linux 5.19).
   *
   * Errors: EINVAL for a bad direction, a size that is not a positive integer or exceeds
   * {@link maxMappingSize}; EFAULT when the original is not RAM; ENOMEM "swiotlb buffer is full"
   * when no slots fit (`full` emitted); EIO when the slots found are beyond the device's DMA limit
   * (`dma_capable()` fails, `unreachable` emitted), as `swiotlb_map()` returns DMA_MAPPING_ERROR.
   * `attrs`: `DMA_ATTR_NO_WARN` marks the `full` event as not warned.
   */
  mapSingle(device: Device, origPhys: number, size: number, dir: DmaDirection, attrs = 0): KResult<number> {
    return this.map(device, origPhys, size, 0, dir, attrs, true);
  }

  /**
   * `swiotlb_tbl_map_single()` (`kernel/dma/swiotlb.c`) as the IOMMU layer calls it: like
   * {@link mapSingle} but with an allocation alignment (`alloc_align_mask`, e.g. the IOVA granule
   * less one, so the bounce buffer fills whole IOMMU pages alone) and without the `dma_capable()`
   * check, since the device reaches the pool through its IOMMU. An alignment wider than a slot puts
   * whole padding slots before the buffer. Errors as {@link mapSingle}, without EIO, plus EINVAL for
   * a mask not of the form 2^k − 1.
   */
  tblMapSingle(
    device: Device,
    origPhys: number,
    size: number,
    allocAlignMask: number,
    dir: DmaDirection,
    attrs = 0,
  ): KResult<number> {
    return this.map(device, origPhys, size, allocAlignMask, dir, attrs, false);
  }

  /**
   * `swiotlb_tbl_unmap_single()`: copies the bounce buffer back to the original for FROM_DEVICE and
   * BIDIRECTIONAL unless `attrs` has `DMA_ATTR_SKIP_CPU_SYNC`, then frees its slots.
   *
   * Errors (nothing changes): EINVAL for a bad direction, an address that is not in the pool or does
   * not start a live bounce buffer, a device other than the one that mapped it, or a size that is not
   * a positive integer or exceeds the mapping's. A smaller size copies back only that many bytes,
   * as the kernel does.
   */
  unmapSingle(device: Device, tlbPhys: number, size: number, dir: DmaDirection, attrs = 0): KResult<void> {
    const found = this.mappingStartingAt(device, tlbPhys, size, dir);
    if (typeof found !== 'number') return E.left(found);
    const slot = found;
    const fromDevice = dir === DmaDirection.FROM_DEVICE || dir === DmaDirection.BIDIRECTIONAL;
    if (fromDevice && !hasSkipCpuSync(attrs)) this.bounce('from-pool', slot, tlbPhys, size);
    const nslots = this.maps.slotsAt(slot);
    const orig = this.maps.origAt(slot);
    this.slots.release(slot, nslots);
    this.maps.remove(slot);
    if (this.events.active) {
      this.events.emit('unmap', { device: device.name, orig, tlb: tlbPhys, size, dir, slot, nslots });
    }
    return OK;
  }

  /**
   * `swiotlb_sync_single_for_device()`: copies the original into the bounce buffer for TO_DEVICE and
   * BIDIRECTIONAL (FROM_DEVICE copies nothing). `tlbPhys`/`size` may be any part of one mapping.
   * Errors (nothing copied): EINVAL for a bad direction or a range not inside one live mapping.
   */
  syncForDevice(tlbPhys: number, size: number, dir: DmaDirection): KResult<void> {
    return this.sync('to-pool', tlbPhys, size, dir, dir !== DmaDirection.FROM_DEVICE);
  }

  /**
   * `swiotlb_sync_single_for_cpu()`: copies the bounce buffer back to the original for FROM_DEVICE
   * and BIDIRECTIONAL (TO_DEVICE copies nothing). `tlbPhys`/`size` may be any part of one mapping.
   * Errors (nothing copied): EINVAL for a bad direction or a range not inside one live mapping.
   */
  syncForCpu(tlbPhys: number, size: number, dir: DmaDirection): KResult<void> {
    return this.sync('from-pool', tlbPhys, size, dir, dir !== DmaDirection.TO_DEVICE);
  }

  /** `is_swiotlb_buffer()`: true when `phys` lies in the pool (mapped or not). */
  isSwiotlbBuffer(phys: number): boolean {
    return phys >= this.start && phys < this.end;
  }

  /**
   * `swiotlb_max_mapping_size()`: the largest mapping the pool can bounce for `device` (256 KiB less
   * what its `min_align_mask` may cost); for a device without one when omitted.
   */
  maxMappingSize(device?: Device): number {
    return swiotlbMaxMappingSize(device?.dmaParms.minAlignMask ?? 0);
  }

  /**
   * The original address behind a bounce-buffer address (the kernel's `slots[i].orig_addr` plus the
   * offset), or `undefined` when `tlbPhys` is not inside a live mapping.
   */
  origAddr(tlbPhys: number): number | undefined {
    const slot = this.allocationAt(tlbPhys);
    if (slot < 0) return undefined;
    const tlb = this.maps.tlbAt(slot);
    const inside = tlbPhys >= tlb && tlbPhys < tlb + this.maps.sizeAt(slot);
    return inside ? this.maps.origAt(slot) + (tlbPhys - tlb) : undefined;
  }

  /** `slots[slot].list`: free slots from `slot` to its segment's end (0 when in use). */
  freeRunAt(slot: number): number {
    return this.slots.freeRunAt(slot);
  }

  /** The live bounce buffers, by slot. */
  mappings(): SwiotlbMapping[] {
    return this.maps.list();
  }

  /** Pool usage and bounce totals. */
  stats(): SwiotlbStats {
    return Object.freeze({
      ...this.totals.snapshot(),
      nslabs: this.nslabs,
      used: this.slots.used,
      highWater: this.hiwater,
      mappings: this.maps.count,
      fullCount: this.fullCount,
    });
  }

  /** Bounce counts of one device (zeros for a device that never bounced). */
  bouncesFor(deviceName: string): SwiotlbBounceCounts {
    return this.perDevice.get(deviceName)?.snapshot() ?? ZERO_COUNTS;
  }

  /**
   * Writing 0 to debugfs `io_tlb_used_hiwater` (`io_tlb_hiwater_set`): the mark drops to 0, even with
   * slots in use, and climbs again with the next mapping.
   */
  resetHighWater(): void {
    const previous = this.hiwater;
    this.hiwater = 0;
    if (this.events.active) this.events.emit('hiwater-reset', { previous });
  }

  private map(
    device: Device,
    orig: number,
    size: number,
    allocAlignMask: number,
    dir: DmaDirection,
    attrs: number,
    checkReach: boolean,
  ): KResult<number> {
    const minAlignMask = device.dmaParms.minAlignMask;
    const max = swiotlbMaxMappingSize(minAlignMask);
    const bad = mapProblem(this.memory, device, orig, size, dir, allocAlignMask, max);
    if (bad !== undefined) return E.left(bad);
    const offset = swiotlbAlignOffset(minAlignMask, allocAlignMask, orig);
    const allocSize = alignUp(size + offset, allocAlignMask + 1);
    const boundaryMask = device.dmaParms.segmentBoundaryMask;
    const tblDmaAddr = positiveMod(this.start - device.dmaRangeOffset, boundaryMask + 1);
    const slot = this.slots.search(orig, allocSize, allocAlignMask, minAlignMask, tblDmaAddr, boundaryMask);
    if (slot < 0) return E.left(this.bufferFull(device, orig, size, allocSize, attrs));
    const tlb = this.start + (slot + Math.floor(offset / IO_TLB_SIZE)) * IO_TLB_SIZE + (offset % IO_TLB_SIZE);
    if (checkReach) {
      const unreachable = this.reachProblem(device, tlb, size);
      if (unreachable !== undefined) return E.left(unreachable);
    }
    const nslots = nrSlots(allocSize);
    this.slots.claim(slot, nslots);
    this.hiwater = Math.max(this.hiwater, this.slots.used);
    this.maps.add(slot, nslots, tlb, orig, size, device.name);
    this.totals.maps += 1;
    this.countersFor(device.name).maps += 1;
    if (this.events.active)
      this.events.emit('map', { device: device.name, orig, tlb, size, dir, slot, nslots });
    this.bounce('to-pool', slot, tlb, size);
    return ok(tlb);
  }

  private sync(
    direction: BounceDirection,
    tlbPhys: number,
    size: number,
    dir: DmaDirection,
    copies: boolean,
  ): KResult<void> {
    const op = direction === 'to-pool' ? 'sync for device' : 'sync for cpu';
    const bad = directionProblem(op, dir);
    if (bad !== undefined) return E.left(bad);
    const slot = this.mappingAround(op, tlbPhys, size);
    if (typeof slot !== 'number') return E.left(slot);
    if (copies) this.bounce(direction, slot, tlbPhys, size);
    return OK;
  }

  /** `swiotlb_bounce()`: copies `bytes` at `tlb` (inside the mapping at `slot`) to or from the original. */
  private bounce(direction: BounceDirection, slot: number, tlb: number, bytes: number): void {
    if (bytes === 0) return;
    const orig = this.maps.origAt(slot) + (tlb - this.maps.tlbAt(slot));
    if (direction === 'to-pool') this.copier.copy(tlb, orig, bytes);
    else this.copier.copy(orig, tlb, bytes);
    const device = this.maps.deviceAt(slot);
    this.totals.bounced(direction, bytes);
    this.countersFor(device).bounced(direction, bytes);
    if (this.events.active) this.events.emit('bounce', { direction, device, orig, tlb, bytes });
  }

  /** The allocation slot holding `phys`, or -1 when `phys` is outside the pool or in a free slot. */
  private allocationAt(phys: number): number {
    if (!this.isSwiotlbBuffer(phys)) return -1;
    return this.maps.allocationOf(Math.floor((phys - this.start) / IO_TLB_SIZE));
  }

  /** The allocation of the live mapping that starts at `tlbPhys`, checked for an unmap. */
  private mappingStartingAt(
    device: Device,
    tlbPhys: number,
    size: number,
    dir: DmaDirection,
  ): number | KernelError {
    const bad = directionProblem('unmap', dir);
    if (bad !== undefined) return bad;
    const slot = this.allocationAt(tlbPhys);
    if (slot < 0 || this.maps.tlbAt(slot) !== tlbPhys) {
      return this.notMapped('unmap', tlbPhys, 'does not start a live bounce buffer');
    }
    const owner = this.maps.deviceAt(slot);
    if (owner !== device.name) {
      return kernelError('EINVAL', `${device.name}: cannot unmap ${hex(tlbPhys)}: ${owner} mapped it`, {
        device: device.name,
        owner,
        tlb: tlbPhys,
      });
    }
    const mapped = this.maps.sizeAt(slot);
    if (!Number.isSafeInteger(size) || size < 1 || size > mapped) {
      return kernelError(
        'EINVAL',
        `${device.name}: cannot unmap ${size} bytes at ${hex(tlbPhys)}: the bounce buffer holds ${mapped}`,
        { device: device.name, tlb: tlbPhys, size, mapped },
      );
    }
    return slot;
  }

  /** The allocation of the live mapping that contains all of `[tlbPhys, tlbPhys + size)`, for a sync. */
  private mappingAround(op: string, tlbPhys: number, size: number): number | KernelError {
    const slot = this.allocationAt(tlbPhys);
    const tlb = slot < 0 ? 0 : this.maps.tlbAt(slot);
    const end = tlb + (slot < 0 ? 0 : this.maps.sizeAt(slot));
    if (slot < 0 || tlbPhys < tlb || tlbPhys >= end) {
      return this.notMapped(op, tlbPhys, 'is not inside a live bounce buffer');
    }
    if (!Number.isSafeInteger(size) || size < 0 || tlbPhys + size > end) {
      return kernelError(
        'EINVAL',
        `swiotlb ${op}: ${size} bytes at ${hex(tlbPhys)} run past the bounce buffer ${hex(tlb)}+${hex(end - tlb)}`,
        { op, tlb: tlbPhys, size, mapping: tlb, mapped: end - tlb },
      );
    }
    return slot;
  }

  private notMapped(op: string, tlbPhys: number, why: string): KernelError {
    const where = this.isSwiotlbBuffer(tlbPhys)
      ? why
      : `is outside the swiotlb pool ${hex(this.start)}-${hex(this.end - 1)}`;
    return kernelError('EINVAL', `swiotlb ${op}: ${hex(tlbPhys)} ${where}`, { op, tlb: tlbPhys });
  }

  private bufferFull(
    device: Device,
    orig: number,
    size: number,
    allocSize: number,
    attrs: number,
  ): KernelError {
    this.fullCount += 1;
    const used = this.slots.used;
    const longestFreeRun = this.slots.longestFreeRun();
    const detail = { device: device.name, orig, size, allocSize, nslabs: this.nslabs, used, longestFreeRun };
    if (this.events.active) this.events.emit('full', { ...detail, warn: !hasAttr(attrs, DmaAttr.NO_WARN) });
    return kernelError(
      'ENOMEM',
      `${device.name}: swiotlb buffer is full (sz: ${allocSize} bytes), total ${this.nslabs} (slots), ` +
        `used ${used} (slots); the longest free run is ${longestFreeRun} slots: unmap bounce buffers ` +
        'sooner or give the pool more memory',
      detail,
    );
  }

  /** `dma_capable(dev, phys_to_dma(tlb), size, true)` as `swiotlb_map()` checks it. */
  private reachProblem(device: Device, tlb: number, size: number): KernelError | undefined {
    const dmaAddr = tlb - device.dmaRangeOffset;
    const limit = dmaDirectLimit(device);
    if (dmaAddr >= 0 && dmaAddr + size - 1 <= limit) return undefined;
    if (this.events.active) {
      this.events.emit('unreachable', { device: device.name, tlb, dmaAddr, size, limit });
    }
    return kernelError(
      'EIO',
      `${device.name}: swiotlb addr ${hex(dmaAddr)}+${size} overflow (dma mask ${device.dmaMask.bits} bits, ` +
        `bus_dma_limit ${hex(device.busDmaLimit)}): the bounce pool must lie below ${hex(limit)}`,
      { device: device.name, tlb, dmaAddr, size, limit },
    );
  }

  private countersFor(device: string): BounceCounters {
    let counters = this.perDevice.get(device);
    if (counters === undefined) {
      counters = new BounceCounters();
      this.perDevice.set(device, counters);
    }
    return counters;
  }
}

/** `x mod m` in 0..m−1, also for a negative `x` (a pool below the device's range offset). */
const positiveMod = (x: number, m: number): number => ((x % m) + m) % m;
