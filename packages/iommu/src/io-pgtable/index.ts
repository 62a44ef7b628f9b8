export { armLpaeProtToPte } from './arm-lpae-pte.js';
export { ARM_LPAE_S1_ADDR_BITS, ARM_LPAE_S1_PGSIZE_BITMAP, ArmLpaeS1Pgtable } from './arm-lpae-s1.js';
export { iommuPgsize, type PgsizeSplit } from './iommu-pgsize.js';
export { pageAllocatorTables } from './page-allocator-tables.js';
export {
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_PROT_MASK,
  IOMMU_READ,
  IOMMU_WRITE,
} from './prot.js';
export type {
  IommuFlushOps,
  IoPageWalker,
  IoPgtableCfg,
  IoPgtableEvents,
  IoPgtablePageSource,
  IoTranslation,
} from './types.js';
