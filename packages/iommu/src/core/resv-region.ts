/**
 * Kinds of reserved IOVA region, as `enum iommu_resv_type` (include/linux/iommu.h):
 * `direct` is identity-mapped in DMA domains (firmware-owned buffers), `direct-relaxable` the same
 * but may be dropped for device assignment, `reserved` must never be mapped, `msi` / `sw-msi` are
 * the MSI doorbell windows.
 */
export type ResvRegionType = 'direct' | 'direct-relaxable' | 'reserved' | 'msi' | 'sw-msi';

/** A per-device reserved IOVA region (`struct iommu_resv_region`). */
export interface ResvRegion {
  readonly start: number;
  readonly length: number;
  readonly type: ResvRegionType;
  /** IOMMU prot flags of a direct mapping (only for `direct` regions). */
  readonly prot?: number;
}

/** True when `[iova, iova + size)` intersects the region. */
export const resvRegionOverlaps = (r: ResvRegion, iova: number, size: number): boolean =>
  iova < r.start + r.length && r.start < iova + size;
