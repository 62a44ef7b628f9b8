/** log2 of {@link IO_TLB_SIZE}, as `IO_TLB_SHIFT` (`include/linux/swiotlb.h`). */
export const IO_TLB_SHIFT = 11;

/** Bytes in one swiotlb slot (a "slab"), as `IO_TLB_SIZE` (`include/linux/swiotlb.h`): 2 KiB. */
export const IO_TLB_SIZE = 2048;

/**
 * Slots in one segment, as `IO_TLB_SEGSIZE` (`include/linux/swiotlb.h`): no bounce buffer crosses a
 * segment, so one mapping is at most `IO_TLB_SEGSIZE * IO_TLB_SIZE` = 256 KiB.
 */
export const IO_TLB_SEGSIZE = 128;

/** Bytes in one segment: the pool size must be a multiple of it, as the kernel aligns `nslabs`. */
export const IO_TLB_SEGMENT_BYTES = IO_TLB_SEGSIZE * IO_TLB_SIZE;

/** Linux's default pool size, `IO_TLB_DEFAULT_SIZE` (`include/linux/swiotlb.h`): 64 MiB. */
export const IO_TLB_DEFAULT_SIZE = 64 * 2 ** 20;

/**
 * The model's default pool size, 4 MiB: one buddy block of the largest order, so it can come from
 * the page allocator, and small enough that tests fill it quickly.
 */
export const SWIOTLB_MODEL_DEFAULT_SIZE = 4 * 2 ** 20;

/** Slots needed for `bytes` bytes, as `nr_slots()` (`kernel/dma/swiotlb.c`). */
export const nrSlots = (bytes: number): number => Math.ceil(bytes / IO_TLB_SIZE);

/** Index of a slot within its segment, as `io_tlb_offset()` (`kernel/dma/swiotlb.c`). */
export const ioTlbOffset = (slot: number): number => slot % IO_TLB_SEGSIZE;
