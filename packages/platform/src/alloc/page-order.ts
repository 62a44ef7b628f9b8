/**
 * The buddy allocator's block sizes. A block of order `n` is 2^n contiguous pages, naturally aligned
 * to its size (`include/linux/mmzone.h`).
 */

/** Largest order the buddy allocator hands out or merges to, as the kernel's `MAX_PAGE_ORDER`. */
export const MAX_PAGE_ORDER = 10;

/** Pages in a block of {@link MAX_PAGE_ORDER}, as `MAX_ORDER_NR_PAGES` (4 MiB of 4 KiB pages). */
export const MAX_ORDER_NR_PAGES = 1024;

/** True when `order` is an integer in 0..{@link MAX_PAGE_ORDER}. */
export const isPageOrder = (order: number): boolean =>
  Number.isInteger(order) && order >= 0 && order <= MAX_PAGE_ORDER;
