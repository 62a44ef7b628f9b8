/**
 * IOMMU protection flags, the `prot` argument of `iommu_map()` and `io_pgtable_ops.map_pages`, with
 * the values of `include/linux/iommu.h`. Combine them with `|` (they are small flags, not addresses).
 */

/** The device may read through the mapping (`IOMMU_READ`). */
export const IOMMU_READ = 1;
/** The device may write through the mapping (`IOMMU_WRITE`). */
export const IOMMU_WRITE = 2;
/** The mapping is cache-coherent with the CPU: write-back memory, inner shareable (`IOMMU_CACHE`). */
export const IOMMU_CACHE = 4;
/** The device may not fetch instructions through the mapping (`IOMMU_NOEXEC`). */
export const IOMMU_NOEXEC = 8;
/** The mapping targets device registers: Device memory type, never cached (`IOMMU_MMIO`). */
export const IOMMU_MMIO = 16;
/** Only privileged device transactions may use the mapping (`IOMMU_PRIV`). */
export const IOMMU_PRIV = 32;

/** Every flag at once: a `prot` outside this mask is a caller bug. */
export const IOMMU_PROT_MASK = 63;
