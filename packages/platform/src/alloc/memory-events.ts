/**
 * The events of the memory allocators, emitted on the machine's `memory` bus. Every change of an
 * allocator's state or of a page's counters is one of these, so a trace shows who took which frame.
 */
export type MemoryEvents = {
  /** The buddy allocator handed out the block `[pfn, pfn + 2^order)` (`alloc_pages`). */
  'page-alloc': { readonly pfn: number; readonly order: number };
  /** The block went back to the buddy allocator (`__free_pages`, or the last `put_page`). */
  'page-free': { readonly pfn: number; readonly order: number };
  /** `get_page`: a reference was taken; `refcount` is the block's count after it. */
  'page-get': { readonly pfn: number; readonly refcount: number };
  /** `put_page`: a reference was dropped; `refcount` is the block's count after it. */
  'page-put': { readonly pfn: number; readonly refcount: number };
  /** A `FOLL_PIN` pin was taken (`pin_user_pages`); `pincount` is the block's count after it. */
  pin: { readonly pfn: number; readonly pincount: number };
  /** A pin was dropped (`unpin_user_page`); `pincount` is the block's count after it. */
  unpin: { readonly pfn: number; readonly pincount: number };
  /** `cma_alloc` took `count` pages from `pfn` in the CMA region `region`. */
  'cma-alloc': { readonly region: string; readonly pfn: number; readonly count: number };
  /** `cma_release` returned `count` pages from `pfn` to the CMA region `region`. */
  'cma-release': { readonly region: string; readonly pfn: number; readonly count: number };
  /** `gen_pool_alloc` took `size` bytes at `addr` from the carveout `region`. */
  'carveout-alloc': { readonly region: string; readonly addr: number; readonly size: number };
  /** `gen_pool_free` returned `size` bytes at `addr` to the carveout `region`. */
  'carveout-free': { readonly region: string; readonly addr: number; readonly size: number };
};
