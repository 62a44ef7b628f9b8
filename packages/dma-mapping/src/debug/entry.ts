import { CpuOwnedRanges } from './cpu-owned-ranges.js';
import type { DmaDebugDevice } from './device.js';
import type { DmaDirection } from './direction.js';
import type { Interval } from './interval-index.js';

/**
 * How a mapping was made, as the `dma_debug_*` type enum of `kernel/dma/debug.c`: `single`
 * (dma_map_single), `page` (dma_map_page: kernels before 5.x kept it apart from `single`, and the
 * model keeps that check), `sg` (dma_map_sg, one entry per mapped segment), `coherent`
 * (dma_alloc_coherent), `noncoherent` (dma_alloc_pages / dma_alloc_noncoherent) and `resource`
 * (dma_map_resource).
 */
export type DmaDebugEntryType = 'single' | 'page' | 'sg' | 'coherent' | 'noncoherent' | 'resource';

/** Whether `dma_mapping_error()` was called on a mapping's address, as `enum map_err_types`. */
export type MapErrType = 'MAP_ERR_CHECK_NOT_APPLICABLE' | 'MAP_ERR_NOT_CHECKED' | 'MAP_ERR_CHECKED';

/**
 * Who may touch a mapping's memory (Documentation/core-api/dma-api-howto.rst): `device` after
 * map or sync_for_device, `cpu` after sync_for_cpu, `mixed` after a partial sync, and `shared` for
 * coherent and resource mappings, which have no ownership.
 */
export type DmaOwner = 'cpu' | 'device' | 'mixed' | 'shared';

/** A byte range of a mapping, as an offset from its device address. */
export interface DmaDebugRange {
  readonly offset: number;
  readonly size: number;
}

/** A snapshot of one tracked mapping, as `struct dma_debug_entry` plus the model's ownership. */
export interface DmaDebugEntry {
  readonly device: string;
  readonly type: DmaDebugEntryType;
  readonly devAddr: number;
  readonly size: number;
  /** Physical address of the CPU side (for sg, of the element with the same index, as the kernel). */
  readonly phys: number;
  readonly direction: DmaDirection;
  readonly sgCallEnts: number;
  readonly sgMappedEnts: number;
  readonly mapErrType: MapErrType;
  readonly owner: DmaOwner;
  /** The byte ranges the CPU owns; empty when the device owns all (or for shared mappings). */
  readonly cpuOwnedRanges: readonly DmaDebugRange[];
}

/** The kernel's names of mapping types, as `type2name[]` (with the 6.x spelling "scatter-gather"). */
export const TYPE_NAMES: Readonly<Record<DmaDebugEntryType, string>> = {
  single: 'single',
  page: 'page',
  sg: 'scatter-gather',
  coherent: 'coherent',
  noncoherent: 'noncoherent',
  resource: 'resource',
};

/** The fields a hook compares against the table: the kernel's on-stack `ref` entry. */
export interface EntryRef {
  readonly dev: DmaDebugDevice;
  readonly type: DmaDebugEntryType;
  readonly devAddr: number;
  readonly size: number;
  readonly direction: DmaDirection;
  readonly sgCallEnts: number;
  readonly phys: number;
}

/** A piece of a mapping's CPU side: physical `[start, end)` backing bytes from `offset` on. */
export class PhysPiece implements Interval {
  constructor(
    readonly start: number,
    readonly end: number,
    readonly entry: TrackedEntry,
    readonly offset: number,
  ) {}
}

/** A live mapping in the debug tables (`struct dma_debug_entry`). */
export class TrackedEntry implements Interval, EntryRef {
  readonly start: number;
  readonly end: number;
  mapErrType: MapErrType;
  /** undefined for shared (coherent, resource) mappings, which have no owner. */
  readonly ownership: CpuOwnedRanges | undefined;
  /** The physical pieces behind the mapping, for CPU-access checks (none when shared). */
  readonly pieces: PhysPiece[] = [];

  constructor(
    readonly dev: DmaDebugDevice,
    readonly type: DmaDebugEntryType,
    readonly devAddr: number,
    readonly size: number,
    readonly phys: number,
    readonly direction: DmaDirection,
    readonly sgCallEnts: number,
    readonly sgMappedEnts: number,
    /** Insertion order, to break ties the way the kernel's bucket lists do. */
    readonly seq: number,
  ) {
    this.start = devAddr;
    this.end = devAddr + size;
    this.mapErrType =
      type === 'single' || type === 'page' || type === 'resource'
        ? 'MAP_ERR_NOT_CHECKED'
        : 'MAP_ERR_CHECK_NOT_APPLICABLE';
    const shared = type === 'coherent' || type === 'resource';
    this.ownership = shared ? undefined : new CpuOwnedRanges();
    // dma_alloc_pages memory starts with the CPU: the driver syncs it for the device first.
    if (type === 'noncoherent') this.ownership?.claim(0, size);
  }

  /** The owner summary of the whole mapping. */
  get owner(): DmaOwner {
    if (this.ownership === undefined) return 'shared';
    if (this.ownership.empty) return 'device';
    return this.ownership.coversAll(this.size) ? 'cpu' : 'mixed';
  }

  /** A plain snapshot for dumps and events. */
  snapshot(): DmaDebugEntry {
    return {
      device: this.dev.name,
      type: this.type,
      devAddr: this.devAddr,
      size: this.size,
      phys: this.phys,
      direction: this.direction,
      sgCallEnts: this.sgCallEnts,
      sgMappedEnts: this.sgMappedEnts,
      mapErrType: this.mapErrType,
      owner: this.owner,
      cpuOwnedRanges: this.ownership?.toRanges() ?? [],
    };
  }
}
