/**
 * `DMA_ATTR_SKIP_CPU_SYNC` (`include/linux/dma-mapping.h`, bit 5): the mapping hooks take the
 * caller's `attrs` bitmask and read only this bit, which exempts a mapping from the overlapping
 * cacheline check as `add_dma_entry()` does.
 */
export const DMA_ATTR_SKIP_CPU_SYNC = 32;

/** True when `attrs` carries {@link DMA_ATTR_SKIP_CPU_SYNC}; exact for any bitmask below 2^53. */
export const hasSkipCpuSync = (attrs: number): boolean =>
  Math.floor(attrs / DMA_ATTR_SKIP_CPU_SYNC) % 2 === 1;
