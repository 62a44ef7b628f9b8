import type { EventBus } from '@sharedbuf/platform';
import { checkCpuAccess, checkDeviceDma } from './check-access.js';
import { checkSgSegment } from './check-sg-segment.js';
import { checkSync } from './check-sync.js';
import { checkUnmap } from './check-unmap.js';
import { DebugState } from './debug-state.js';
import type { DmaDebugDevice } from './device.js';
import { DmaDirection } from './direction.js';
import {
  type DmaDebugEntry,
  type DmaDebugEntryType,
  type EntryRef,
  PhysPiece,
  TrackedEntry,
} from './entry.js';
import { PREALLOC_DMA_DEBUG_ENTRIES } from './entry-accounting.js';
import type { DmaDebugEvents } from './events.js';
import type { DmaDebugFinding } from './finding.js';
import { DebugMessages as M } from './messages.js';
import type { DmaDebugSgEntry } from './scatterlist.js';

/** Construction options of {@link DmaDebug}. */
export interface DmaDebugOptions {
  /** Start switched on (default true, as with CONFIG_DMA_API_DEBUG; false models `dma_debug=off`). */
  readonly enabled?: boolean;
  /**
   * `dma_mapping_error()`: true when a returned address means the mapping failed. The mapping layer
   * should pass its own. Default: any address that is not a non-negative safe integer (so -1, NaN or
   * a sentinel beyond 2^53 all count as `DMA_MAPPING_ERROR`).
   */
  readonly isMappingError?: (dev: DmaDebugDevice, dmaAddr: number) => boolean;
  /** `L1_CACHE_BYTES` for the overlapping-cacheline check (default 64). */
  readonly cacheLineSize?: number;
  /** Check sg segments against the device's limits, as CONFIG_DMA_API_DEBUG_SG (default true). */
  readonly checkSgSegments?: boolean;
  /** `dma_debug_entries=`: entries preallocated, for the pool counters (default 65536). */
  readonly preallocEntries?: number;
}

/** The debugfs counters of `/sys/kernel/debug/dma-api/`, plus the number of live entries. */
export interface DmaDebugStats {
  readonly disabled: boolean;
  /** Findings recorded since creation (not reset by {@link DmaDebug.clear}). */
  readonly errorCount: number;
  readonly numFreeEntries: number;
  readonly minFreeEntries: number;
  readonly nrTotalEntries: number;
  readonly activeEntries: number;
}

const notSafeAddress = (_dev: DmaDebugDevice, addr: number): boolean =>
  !Number.isSafeInteger(addr) || addr < 0;

/** The reference entry of a non-sg unmap, free or sync, as the kernel builds it on the stack. */
const ref = (
  dev: DmaDebugDevice,
  type: DmaDebugEntryType,
  devAddr: number,
  size: number,
  direction: DmaDirection,
  phys = 0,
): EntryRef => ({ dev, type, devAddr, size, direction, sgCallEnts: 0, phys });

/** The reference entry of one sg element, as the sg hooks build it. */
const sgRef = (
  dev: DmaDebugDevice,
  s: DmaDebugSgEntry,
  nelems: number,
  direction: DmaDirection,
): EntryRef => ({
  dev,
  type: 'sg',
  devAddr: s.dmaAddress,
  size: s.dmaLength,
  direction,
  sgCallEnts: nelems,
  phys: s.phys,
});

/**
 * DMA-API debugging, as `kernel/dma/debug.c` (CONFIG_DMA_API_DEBUG). The DMA mapping layer calls a
 * hook at each API entry point, like the kernel's `debug_dma_*()` calls; the checker keeps a table of
 * every live mapping and records a {@link DmaDebugFinding} (and emits a `finding` event) for each
 * misuse, in the kernel's words. Hooks never fail, and a hook that finds a fault changes no other
 * mapping. Beyond the kernel, it tracks buffer ownership per byte
 * (Documentation/core-api/dma-api-howto.rst): map and sync_for_device hand memory to the device,
 * sync_for_cpu and unmap give it back, noncoherent allocations start with the CPU, and coherent
 * memory is shared; {@link debugCpuAccess} and {@link debugDeviceDma} check accesses against it.
 *
 * When switched off, every hook returns at once. Mappings made while off are unknown, so switching on
 * with mappings live reports their unmaps as "not allocated" (the kernel cannot be switched back on).
 * Not modelled: the driver filter and `num_errors`/`all_errors` (they only limit printing), the checks
 * of kernel virtual addresses (stack, vmalloc, kernel text), and running out of entries.
 */
export class DmaDebug {
  private on: boolean;
  private readonly state: DebugState;

  /** @param bus where every state change and finding is emitted. */
  constructor(bus: EventBus<DmaDebugEvents>, options: DmaDebugOptions = {}) {
    this.on = options.enabled ?? true;
    this.state = new DebugState(bus, {
      isMappingError: options.isMappingError ?? notSafeAddress,
      cacheLineSize: options.cacheLineSize ?? 64,
      checkSgSegments: options.checkSgSegments ?? true,
      preallocEntries: options.preallocEntries ?? PREALLOC_DMA_DEBUG_ENTRIES,
    });
  }

  /** The bus findings and state changes are emitted on. */
  get bus(): EventBus<DmaDebugEvents> {
    return this.state.bus;
  }

  /** Whether the hooks check anything (the inverse of debugfs `dma-api/disabled`). */
  get enabled(): boolean {
    return this.on;
  }

  set enabled(value: boolean) {
    if (value === this.on) return;
    this.on = value;
    this.state.bus.emit('enabled', { enabled: value });
  }

  // --- mapping hooks ---

  /** `debug_dma_map_page()` for `dma_map_page()`: records the mapping unless `dmaAddr` is an error. */
  debugDmaMapPage(
    dev: DmaDebugDevice,
    phys: number,
    size: number,
    dir: DmaDirection,
    dmaAddr: number,
    attrs = 0,
  ): void {
    this.mapStreaming('page', dev, phys, size, dir, dmaAddr, attrs);
  }

  /**
   * `debug_dma_map_page(…, map_single)` for `dma_map_single()`: as {@link debugDmaMapPage}, recorded
   * as type `single` so that unmapping with the page function is reported (as kernels before 5.x did).
   */
  debugDmaMapSingle(
    dev: DmaDebugDevice,
    phys: number,
    size: number,
    dir: DmaDirection,
    dmaAddr: number,
    attrs = 0,
  ): void {
    this.mapStreaming('single', dev, phys, size, dir, dmaAddr, attrs);
  }

  /**
   * `debug_dma_map_resource()` for `dma_map_resource()` (MMIO; shared, no ownership). Like the
   * kernel hook it does not test `dmaAddr`: the caller calls it only on success.
   */
  debugDmaMapResource(
    dev: DmaDebugDevice,
    phys: number,
    size: number,
    dir: DmaDirection,
    dmaAddr: number,
    attrs = 0,
  ): void {
    if (!this.on) return;
    this.state.addEntry(this.newEntry(dev, 'resource', dmaAddr, size, phys, dir, 0, 0), attrs);
  }

  /** `debug_dma_mapping_error()`: the driver checked `dmaAddr`, so its mapping's check is done. */
  debugDmaMappingError(dev: DmaDebugDevice, dmaAddr: number): void {
    if (!this.on) return;
    const e = this.state.table.firstUnchecked(dev, dmaAddr);
    if (e === undefined) return;
    e.mapErrType = 'MAP_ERR_CHECKED';
    this.state.bus.emit('map-error-checked', {
      device: dev.name,
      devAddr: dmaAddr,
      mapErrType: e.mapErrType,
    });
  }

  /** `debug_dma_unmap_page()` for `dma_unmap_page()`. */
  debugDmaUnmapPage(dev: DmaDebugDevice, dmaAddr: number, size: number, dir: DmaDirection): void {
    if (this.on) checkUnmap(this.state, ref(dev, 'page', dmaAddr, size, dir));
  }

  /** `debug_dma_unmap_page(…, map_single)` for `dma_unmap_single()`. */
  debugDmaUnmapSingle(dev: DmaDebugDevice, dmaAddr: number, size: number, dir: DmaDirection): void {
    if (this.on) checkUnmap(this.state, ref(dev, 'single', dmaAddr, size, dir));
  }

  /** `debug_dma_unmap_resource()` for `dma_unmap_resource()`. */
  debugDmaUnmapResource(dev: DmaDebugDevice, dmaAddr: number, size: number, dir: DmaDirection): void {
    if (this.on) checkUnmap(this.state, ref(dev, 'resource', dmaAddr, size, dir));
  }

  /**
   * `debug_dma_map_sg()`: one entry per mapped segment (the first `mappedEnts` elements of `sgl`),
   * each remembering `nents`; with CONFIG_DMA_API_DEBUG_SG each segment is checked against the
   * device's maximum segment size and boundary (`check_sg_segment()`).
   */
  debugDmaMapSg(
    dev: DmaDebugDevice,
    sgl: readonly DmaDebugSgEntry[],
    nents: number,
    mappedEnts: number,
    dir: DmaDirection,
    attrs = 0,
  ): void {
    if (!this.on) return;
    let dmaOffset = 0;
    for (let i = 0; i < mappedEnts && i < sgl.length; i++) {
      const s = sgl[i] as DmaDebugSgEntry;
      const e = this.newEntry(dev, 'sg', s.dmaAddress, s.dmaLength, s.phys, dir, nents, mappedEnts);
      addSgPieces(e, sgl, nents, dmaOffset);
      dmaOffset += s.dmaLength;
      if (this.state.config.checkSgSegments) checkSgSegment(this.state, dev, s);
      this.state.addEntry(e, attrs);
    }
  }

  /**
   * `debug_dma_unmap_sg()`: unmaps the list element by element, stopping after the number of
   * segments the first element's entry says were mapped (all `nelems` when it is unknown).
   */
  debugDmaUnmapSg(
    dev: DmaDebugDevice,
    sgl: readonly DmaDebugSgEntry[],
    nelems: number,
    dir: DmaDirection,
  ): void {
    if (!this.on) return;
    let mappedEnts = 0;
    for (let i = 0; i < nelems && i < sgl.length; i++) {
      const r = sgRef(dev, sgl[i] as DmaDebugSgEntry, nelems, dir);
      if (mappedEnts !== 0 && i >= mappedEnts) break;
      if (i === 0) mappedEnts = this.state.table.findExact(r)?.sgMappedEnts ?? 0;
      checkUnmap(this.state, r);
    }
  }

  /** `debug_dma_alloc_coherent()` for `dma_alloc_coherent()`: shared memory, BIDIRECTIONAL. */
  debugDmaAllocCoherent(dev: DmaDebugDevice, size: number, dmaAddr: number, phys: number, attrs = 0): void {
    if (!this.on) return;
    this.state.addEntry(
      this.newEntry(dev, 'coherent', dmaAddr, size, phys, DmaDirection.BIDIRECTIONAL, 0, 0),
      attrs,
    );
  }

  /** `debug_dma_free_coherent()` for `dma_free_coherent()`; `phys` is the CPU side being freed. */
  debugDmaFreeCoherent(dev: DmaDebugDevice, size: number, phys: number, dmaAddr: number): void {
    if (this.on)
      checkUnmap(this.state, ref(dev, 'coherent', dmaAddr, size, DmaDirection.BIDIRECTIONAL, phys));
  }

  /**
   * `debug_dma_alloc_pages()` for `dma_alloc_pages()`/`dma_alloc_noncoherent()`: the memory starts
   * owned by the CPU, which must sync it for the device before the device uses it.
   */
  debugDmaAllocPages(
    dev: DmaDebugDevice,
    phys: number,
    size: number,
    dir: DmaDirection,
    dmaAddr: number,
    attrs = 0,
  ): void {
    if (!this.on) return;
    const e = this.newEntry(dev, 'noncoherent', dmaAddr, size, phys, dir, 0, 0);
    e.pieces.push(new PhysPiece(phys, phys + size, e, 0));
    this.state.addEntry(e, attrs);
  }

  /** `debug_dma_free_pages()` for `dma_free_pages()`/`dma_free_noncoherent()`. */
  debugDmaFreePages(
    dev: DmaDebugDevice,
    phys: number,
    size: number,
    dir: DmaDirection,
    dmaAddr: number,
  ): void {
    if (this.on) checkUnmap(this.state, ref(dev, 'noncoherent', dmaAddr, size, dir, phys));
  }

  // --- sync hooks ---

  /** `debug_dma_sync_single_for_cpu()`: checks the sync and gives the range to the CPU. */
  debugDmaSyncSingleForCpu(dev: DmaDebugDevice, dmaHandle: number, size: number, dir: DmaDirection): void {
    if (this.on) checkSync(this.state, ref(dev, 'single', dmaHandle, size, dir), true);
  }

  /** `debug_dma_sync_single_for_device()`: checks the sync and gives the range to the device. */
  debugDmaSyncSingleForDevice(dev: DmaDebugDevice, dmaHandle: number, size: number, dir: DmaDirection): void {
    if (this.on) checkSync(this.state, ref(dev, 'single', dmaHandle, size, dir), false);
  }

  /**
   * `debug_dma_sync_sg_for_cpu()`: syncs each mapped segment for the CPU. As in the kernel, a list
   * whose first element is unknown is skipped silently.
   */
  debugDmaSyncSgForCpu(
    dev: DmaDebugDevice,
    sgl: readonly DmaDebugSgEntry[],
    nelems: number,
    dir: DmaDirection,
  ): void {
    if (this.on) this.syncSg(dev, sgl, nelems, dir, true);
  }

  /** `debug_dma_sync_sg_for_device()`: syncs each mapped segment for the device. */
  debugDmaSyncSgForDevice(
    dev: DmaDebugDevice,
    sgl: readonly DmaDebugSgEntry[],
    nelems: number,
    dir: DmaDirection,
  ): void {
    if (this.on) this.syncSg(dev, sgl, nelems, dir, false);
  }

  // --- the model's access and lifetime hooks ---

  /**
   * The model's own check: the CPU reads or writes physical `[physAddr, physAddr + size)`; any byte
   * the device owns (in a mapping of `dev`, or of any device when undefined) yields one
   * `cpu-access-device-owned` finding. Allocates nothing when clean.
   */
  debugCpuAccess(dev: DmaDebugDevice | undefined, physAddr: number, size: number, write: boolean): void {
    if (this.on && size > 0) checkCpuAccess(this.state, dev, physAddr, size, write);
  }

  /**
   * The model's own check: `dev` reads or writes bus `[busAddr, busAddr + size)`; every byte must be
   * in a mapping of this device that the device owns and whose direction allows the access, else one
   * finding names the first offending byte (`device-dma-not-mapped`, `device-dma-wrong-direction` or
   * `device-dma-cpu-owned`). Allocates nothing when clean.
   */
  debugDeviceDma(dev: DmaDebugDevice, busAddr: number, size: number, write: boolean): void {
    if (this.on && size > 0) checkDeviceDma(this.state, dev, busAddr, size, write);
  }

  /**
   * `dma_debug_device_change(BUS_NOTIFY_UNBOUND_DRIVER)`: the driver let go of `dev`; any mapping it
   * still holds is a leak, reported once with the count and one entry (the kernel's last in hash
   * order). The entries stay in the table, as in the kernel.
   */
  debugDeviceUnbind(dev: DmaDebugDevice): void {
    if (!this.on) return;
    const leaked = this.state.table.entries(dev);
    const e = leaked[leaked.length - 1];
    if (e === undefined) return;
    const msg = M.pendingAtUnbind(leaked.length, e.devAddr, e.size, e.direction, e.type);
    this.state.report('pending-at-unbind', dev.name, msg, {
      count: leaked.length,
      leaked: leaked.map((l) => l.snapshot()),
    });
  }

  // --- inspection ---

  /** The findings recorded since creation or the last {@link clear}, oldest first. */
  findings(): readonly DmaDebugFinding[] {
    return this.state.found;
  }

  /** Forgets the recorded findings (the tables and `errorCount` are kept). */
  clear(): void {
    const count = this.state.found.length;
    this.state.found.length = 0;
    this.state.bus.emit('findings-cleared', { count });
  }

  /** `debug_dma_dump_mappings()` / debugfs `dump`: snapshots of the live entries, in hash order. */
  dump(dev?: DmaDebugDevice): DmaDebugEntry[] {
    return this.state.table.entries(dev).map((e) => e.snapshot());
  }

  /** A snapshot of the first entry mapped at exactly `devAddr` for `dev`, if any. */
  lookup(dev: DmaDebugDevice, devAddr: number): DmaDebugEntry | undefined {
    const index = this.state.table.deviceIndex(dev);
    if (index === undefined) return undefined;
    const i = index.lowerBound(devAddr);
    return i < index.size && index.at(i).start === devAddr ? index.at(i).snapshot() : undefined;
  }

  /** The debugfs counters. */
  stats(): DmaDebugStats {
    const { pool } = this.state;
    return {
      disabled: !this.on,
      errorCount: this.state.errorCount,
      numFreeEntries: pool.numFreeEntries,
      minFreeEntries: pool.minFreeEntries,
      nrTotalEntries: pool.nrTotalEntries,
      activeEntries: this.state.table.count,
    };
  }

  // --- internals ---

  private mapStreaming(
    type: 'single' | 'page',
    dev: DmaDebugDevice,
    phys: number,
    size: number,
    dir: DmaDirection,
    dmaAddr: number,
    attrs: number,
  ): void {
    if (!this.on || this.state.config.isMappingError(dev, dmaAddr)) return;
    const e = this.newEntry(dev, type, dmaAddr, size, phys, dir, 0, 0);
    e.pieces.push(new PhysPiece(phys, phys + size, e, 0));
    this.state.addEntry(e, attrs);
  }

  private newEntry(
    dev: DmaDebugDevice,
    type: DmaDebugEntryType,
    devAddr: number,
    size: number,
    phys: number,
    dir: DmaDirection,
    sgCallEnts: number,
    sgMappedEnts: number,
  ): TrackedEntry {
    const seq = this.state.table.takeSeq();
    return new TrackedEntry(dev, type, devAddr, size, phys, dir, sgCallEnts, sgMappedEnts, seq);
  }

  /** The loop shared by `debug_dma_sync_sg_for_{cpu,device}()`. */
  private syncSg(
    dev: DmaDebugDevice,
    sgl: readonly DmaDebugSgEntry[],
    nelems: number,
    dir: DmaDirection,
    toCpu: boolean,
  ): void {
    let mappedEnts = 0;
    for (let i = 0; i < nelems && i < sgl.length; i++) {
      const r = sgRef(dev, sgl[i] as DmaDebugSgEntry, nelems, dir);
      if (i === 0) mappedEnts = this.state.table.findExact(r)?.sgMappedEnts ?? 0;
      if (i >= mappedEnts) break;
      checkSync(this.state, r, toCpu);
    }
  }
}

/**
 * The physical pieces behind one mapped sg segment. The mapped segments, in order, carry the bytes
 * of the `nents` CPU segments in order (an IOMMU may merge CPU segments), so segment bytes
 * `[dmaOffset, dmaOffset + size)` of that stream are the CPU bytes at the same stream offsets.
 */
const addSgPieces = (
  e: TrackedEntry,
  sgl: readonly DmaDebugSgEntry[],
  nents: number,
  dmaOffset: number,
): void => {
  const lo = dmaOffset;
  const hi = dmaOffset + e.size;
  let cpuOffset = 0;
  for (let j = 0; j < nents && j < sgl.length && cpuOffset < hi; j++) {
    const s = sgl[j] as DmaDebugSgEntry;
    const from = Math.max(lo, cpuOffset);
    const to = Math.min(hi, cpuOffset + s.length);
    if (from < to)
      e.pieces.push(new PhysPiece(s.phys + (from - cpuOffset), s.phys + (to - cpuOffset), e, from - lo));
    cpuOffset += s.length;
  }
};
