import type { KResult } from '../core/kernel-error.js';

/**
 * What the mm needs from the page allocator and `struct page`: order-0 pages for anonymous memory and
 * their reference and pin counts. The mm never frees a page itself: it drops its reference
 * (`put_page`) and the page goes back to the allocator when the last reference is gone, so a page
 * pinned by a driver outlives its mapping, as in Linux.
 */
export interface MmPageSource {
  /**
   * `alloc_page(GFP_HIGHUSER_MOVABLE | __GFP_ZERO)`: one zeroed order-0 page holding one reference,
   * which the caller owns. ENOMEM when no page is free.
   */
  allocPage(): KResult<number>;
  /** `put_page`: drops one reference; the page is freed when none is left. */
  putPage(pfn: number): KResult<void>;
  /**
   * `try_grab_folio(FOLL_PIN)`: one more pin, which holds its own reference, so a pinned page stays
   * allocated whoever else drops theirs.
   */
  pin(pfn: number): KResult<void>;
  /** `unpin_user_page`: drops one pin and its reference; the page is freed when none is left. */
  unpin(pfn: number): KResult<void>;
}
