/** Why a translation faulted. */
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
