/**
 * DMA attributes (`DMA_ATTR_*`, include/linux/dma-mapping.h), with the kernel's bit values, plus the
 * seeds' proposals, which Linux never merged and which are marked as extensions.
 */
export const DmaAttr = {
  /** Reads and writes to the buffer may be reordered (`DMA_ATTR_WEAK_ORDERING`); a hint. */
  WEAK_ORDERING: 1 << 1,
  /** The CPU view of an allocation is write-combined rather than uncached (`DMA_ATTR_WRITE_COMBINE`). */
  WRITE_COMBINE: 1 << 2,
  /** No kernel virtual mapping for the allocation (`DMA_ATTR_NO_KERNEL_MAPPING`, seed 002's GPU need). */
  NO_KERNEL_MAPPING: 1 << 4,
  /** Skip CPU cache maintenance at map/unmap; the caller syncs later (`DMA_ATTR_SKIP_CPU_SYNC`, seed 002). */
  SKIP_CPU_SYNC: 1 << 5,
  /** The allocation must be physically contiguous (`DMA_ATTR_FORCE_CONTIGUOUS`). */
  FORCE_CONTIGUOUS: 1 << 6,
  /** Build the allocation from single pages; TLB efficiency does not matter (`DMA_ATTR_ALLOC_SINGLE_PAGES`). */
  ALLOC_SINGLE_PAGES: 1 << 7,
  /** Do not warn on allocation failure (`DMA_ATTR_NO_WARN`). */
  NO_WARN: 1 << 8,
  /** The mapping is only for privileged accesses (`DMA_ATTR_PRIVILEGED` → IOMMU_PRIV). */
  PRIVILEGED: 1 << 9,
  /**
   * Extension (seed 000, Arnd Bergmann's DMA_ATTR_FIXED_MAPPING proposal, never merged): the caller
   * chooses the IOVA as well as the page. Ask `supportsFixedMapping(dev)` first.
   */
  FIXED_MAPPING: 1 << 16,
} as const;

/** True when `flag` is set in `attrs` (exact for any attribute word). */
export const hasAttr = (attrs: number, flag: number): boolean => Math.floor(attrs / flag) % 2 === 1;
