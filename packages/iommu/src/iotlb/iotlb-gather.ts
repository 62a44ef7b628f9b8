/**
 * Where a gather's flush goes: one IOTLB, or a domain that fans the range out to every IOMMU
 * instance walking its tables.
 */
export interface IotlbFlushTarget {
  flushRange(asid: number, iova: number, size: number): void;
}

/** `ULONG_MAX`, the empty gather's start: above every modelled address. */
const EMPTY_START = Number.MAX_SAFE_INTEGER;

/**
 * The invalidations an unmap owes, collected so that one flush covers them — `struct
 * iommu_iotlb_gather` (include/linux/iommu.h). Unmap adds each cleared leaf; `sync()` then issues one
 * range invalidation for `[start, end]` on the IOTLB and address space the gather belongs to
 * (`iommu_iotlb_sync`). Until then the IOTLB may still hold the unmapped pages.
 *
 * A gather is reusable: `sync()` leaves it empty, as `iommu_iotlb_gather_init()`.
 */
export class IotlbGather {
  /**
   * Set by callers that defer invalidation to a flush queue (lazy mode): unmap then gathers nothing,
   * because the queue will flush the whole address space (`iommu_iotlb_gather_queued`).
   */
  queued = false;
  private first = EMPTY_START;
  private last = 0;
  private granule = 0;

  /**
   * @param iotlb where the flush goes (an `Iotlb`, or a domain fanning out to several)
   * @param asid the address space the gathered IOVAs belong to
   */
  constructor(
    readonly iotlb: IotlbFlushTarget,
    readonly asid: number,
  ) {}

  /** First gathered IOVA (`gather->start`); `Number.MAX_SAFE_INTEGER` when empty. */
  get start(): number {
    return this.first;
  }

  /** Last gathered byte, inclusive (`gather->end`); 0 when empty. */
  get end(): number {
    return this.last;
  }

  /** Page size of the gathered pages (`gather->pgsize`); 0 when none was added with a size hint. */
  get pgsize(): number {
    return this.granule;
  }

  /** True when nothing is gathered. */
  get empty(): boolean {
    return this.last === 0 && this.first === EMPTY_START;
  }

  /** Forgets everything gathered, without flushing (`iommu_iotlb_gather_init`). */
  init(): void {
    this.first = EMPTY_START;
    this.last = 0;
    this.granule = 0;
  }

  /**
   * True when `[iova, iova + size)` neither overlaps nor touches the gathered range
   * (`iommu_iotlb_gather_is_disjoint`; an empty gather is disjoint from nothing).
   */
  isDisjoint(iova: number, size: number): boolean {
    const end = iova + size - 1;
    return this.last !== 0 && (end + 1 < this.first || iova > this.last + 1);
  }

  /** Widens the gathered range to cover `[iova, iova + size)` (`iommu_iotlb_gather_add_range`). */
  addRange(iova: number, size: number): void {
    const end = iova + size - 1;
    if (this.first > iova) this.first = iova;
    if (this.last < end) this.last = end;
  }

  /**
   * Gathers one unmapped page (`iommu_iotlb_gather_add_page`): when its size differs from the gathered
   * pages' or it is disjoint from them, the gathered range is synced first, so a gather never merges
   * distant ranges into one over-wide flush.
   */
  addPage(iova: number, size: number): void {
    if ((this.granule !== 0 && this.granule !== size) || this.isDisjoint(iova, size)) this.sync();
    this.granule = size;
    this.addRange(iova, size);
  }

  /** Issues one range invalidation for everything gathered, then empties the gather (`iommu_iotlb_sync`). */
  sync(): void {
    if (!this.empty) this.iotlb.flushRange(this.asid, this.first, this.last - this.first + 1);
    this.init();
  }
}
