/**
 * IOMMU domain types (`IOMMU_DOMAIN_*`, include/linux/iommu.h):
 * - `blocked`: all DMA is blocked;
 * - `identity`: DMA addresses are physical addresses (passthrough);
 * - `unmanaged`: a paging domain whose address space the caller owns (the IOMMU API, no allocator);
 * - `dma`: a paging domain owned by the DMA API, with an IOVA allocator;
 * - `sva`: shares a process's page table; DMA addresses are user virtual addresses.
 */
export type DomainType = 'blocked' | 'identity' | 'unmanaged' | 'dma' | 'sva';

/** True for the domain types that have an IO page table (`__IOMMU_DOMAIN_PAGING`). */
export const isPagingDomainType = (t: DomainType): boolean => t === 'unmanaged' || t === 'dma';
