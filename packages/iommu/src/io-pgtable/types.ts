import type { KResult, PhysicalMemory } from '@sharedbuf/platform';
import type { IotlbGather } from '../iotlb/iotlb-gather.js';

/**
 * Where an IO page table gets its table pages: one 4 KiB physical page per table, zeroed by the
 * table before use. Mirrors `io_pgtable_cfg.alloc`/`.free` (the custom table allocator of
 * `IO_PGTABLE_CAP_CUSTOM_ALLOCATOR`); by default the kernel uses `iommu_alloc_pages_node_sz()`.
 */
export interface IoPgtablePageSource {
  /** A page frame in RAM for a new table, or ENOMEM. */
  allocTable(): KResult<number>;
  /** Gives back a table page the IO page table no longer uses. */
  freeTable(pfn: number): void;
}

/**
 * The IOMMU driver's TLB maintenance callbacks — `struct iommu_flush_ops` (include/linux/io-pgtable.h)
 * that io-pgtable calls while it changes the tables.
 */
export interface IommuFlushOps {
  /** `tlb_flush_all`: drop every cached translation of this address space. */
  tlbFlushAll(): void;
  /**
   * `tlb_flush_walk`: invalidate, now, everything cached for `[iova, iova + size)` including partial
   * walks, because a table that translated that range is about to be freed.
   */
  tlbFlushWalk(iova: number, size: number, granule: number): void;
  /** `tlb_add_page`: queue the invalidation of one leaf of size `granule` into `gather`. */
  tlbAddPage(gather: IotlbGather, iova: number, granule: number): void;
}

/** Everything an IO page table needs from its surroundings (the model's `struct io_pgtable_cfg`). */
export interface IoPgtableCfg extends IoPgtablePageSource {
  /** The physical memory the tables live in; every table page must be RAM. */
  readonly memory: PhysicalMemory;
  /** TLB maintenance; without it unmaps gather nothing and freed tables are not flushed. */
  readonly tlb?: IommuFlushOps;
  /** Event source name, e.g. `io-pgtable:smmu0/dom1` (default `io-pgtable`). */
  readonly name?: string;
}

/**
 * One translation as a table walk finds it: the physical address the IOVA reaches, the size of the
 * leaf (4 KiB page, 2 MiB or 1 GiB block) and the IOMMU_* permissions the leaf grants. Callers keep
 * one of these and pass it to every walk, so walking allocates nothing.
 */
export interface IoTranslation {
  phys: number;
  pgsize: number;
  prot: number;
}

/** A hardware table walker: what a device's IOMMU calls on an IOTLB miss. */
export interface IoPageWalker {
  /** Fills `out` and returns true, or returns false on a translation fault. */
  walk(iova: number, out: IoTranslation): boolean;
}

/** Events of an IO page table (payloads are plain data; addresses are numbers). */
export type IoPgtableEvents = {
  /** `pgcount` leaves of `pgsize` were written from `iova` → `paddr`. */
  map: { iova: number; paddr: number; pgsize: number; pgcount: number; prot: number };
  /** `pgcount` entries of `pgsize` were cleared from `iova`. */
  unmap: { iova: number; pgsize: number; pgcount: number };
  /** A table page was taken from the page source and linked at `level` (0 = the root). */
  'table-alloc': { pfn: number; level: number };
  /** A table page was unlinked and returned to the page source. */
  'table-free': { pfn: number; level: number };
};
