import type { IommuFlushOps } from '../io-pgtable/types.js';
import type { IotlbGather } from '../iotlb/iotlb-gather.js';
import type { IommuInstance } from './iommu-instance.js';

/**
 * TLB maintenance of one domain across every instance that walks its tables: the domain's
 * `iommu_flush_ops`, and the target a gather flushes (`iommu_iotlb_sync` on each IOMMU). Entries are
 * tagged with the domain id as ASID.
 */
export class DomainTlb implements IommuFlushOps {
  /** Instances whose IOTLB may hold this domain's translations. */
  readonly instances = new Set<IommuInstance>();

  constructor(readonly asid: number) {}

  /** Drops every cached translation of the domain, on every instance. */
  tlbFlushAll(): void {
    for (const i of this.instances) i.iotlb.flushAsid(this.asid);
  }

  /** Invalidates `[iova, iova + size)` now, on every instance (a table is being freed). */
  tlbFlushWalk(iova: number, size: number): void {
    this.flushRange(this.asid, iova, size);
  }

  /** Queues one leaf's invalidation into `gather`. */
  tlbAddPage(gather: IotlbGather, iova: number, granule: number): void {
    gather.addPage(iova, granule);
  }

  /** Invalidates a range on every instance: what a gather's sync issues. */
  flushRange(asid: number, iova: number, size: number): void {
    for (const i of this.instances) i.iotlb.flushRange(asid, iova, size);
  }
}
