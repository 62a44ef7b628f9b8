/**
 * Why a translation faulted: nothing mapped there (`unmapped`), a mapping without the access's
 * permission (`permission`), a blocking domain or an SVA domain whose process is gone (`blocked`), an
 * IOVA outside the domain's aperture (`aperture`), or a PASID with no domain attached (`pasid`).
 * The kernel passes only `IOMMU_FAULT_READ/WRITE` to `report_iommu_fault` and leaves the cause in the
 * driver's fault syndrome; the model names it.
 */
export type IommuFaultReason = 'unmapped' | 'permission' | 'blocked' | 'aperture' | 'pasid';

/**
 * One IOMMU fault, as reported to a domain's fault handler (`report_iommu_fault`,
 * drivers/iommu/iommu.c) and recorded by the core.
 */
export interface IommuFault {
  readonly device: string;
  readonly domain: number;
  readonly iova: number;
  readonly write: boolean;
  readonly reason: IommuFaultReason;
  /** PASID of the access, or -1 for an access without one. */
  readonly pasid: number;
}

/**
 * A domain's fault handler (`iommu_fault_handler_t`). Returning `'retry'` says the handler fixed the
 * cause (e.g. mapped the page) and the access is tried once more; `'abort'` lets the fault stand,
 * which blocks the access: no byte moves.
 */
export type IommuFaultHandler = (fault: IommuFault) => 'retry' | 'abort';
