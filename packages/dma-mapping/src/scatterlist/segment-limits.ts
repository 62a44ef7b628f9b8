import { fail, hex, isPow2, type KResult, MAX_ADDRESS_BITS, PAGE_SIZE, pow2 } from '@sharedbuf/platform';

/** `UINT_MAX`: `struct scatterlist`'s `length` and the `max_segment` argument are `unsigned int`. */
export const UINT_MAX = 0xffff_ffff;

/**
 * `SCATTERLIST_MAX_SEGMENT` (`include/linux/scatterlist.h`): `UINT_MAX & PAGE_MASK`, the largest
 * segment a page-built table can have; what `sg_alloc_table_from_pages()` passes as `max_segment`.
 */
export const SCATTERLIST_MAX_SEGMENT = UINT_MAX - (UINT_MAX % PAGE_SIZE);

/** Exclusive end of the modelled physical address space. */
export const ADDRESS_LIMIT = pow2(MAX_ADDRESS_BITS);

/**
 * The `max_segment` check of `sg_alloc_append_table_from_pages()` (`lib/scatterlist.c`): it is
 * rounded down to a page multiple and must still be at least `PAGE_SIZE`, else `-EINVAL` (with a
 * WARN). Values that an `unsigned int` cannot hold are refused too, as the model cannot truncate
 * them the way C would. Returns the failure, or `undefined` when `maxSegment` is usable.
 */
export const maxSegmentProblem = (maxSegment: number): KResult<never> | undefined => {
  if (!Number.isSafeInteger(maxSegment) || maxSegment < 0 || maxSegment > UINT_MAX) {
    return fail(
      'EINVAL',
      `max_segment ${maxSegment} is not an unsigned int; pass SCATTERLIST_MAX_SEGMENT for no device limit`,
      { maxSegment },
    );
  }
  if (maxSegment < PAGE_SIZE) {
    return fail(
      'EINVAL',
      `max_segment ${maxSegment} rounds down to less than one page (${PAGE_SIZE}); a page-built table needs at least a page per segment`,
      { maxSegment, pageSize: PAGE_SIZE },
    );
  }
  return undefined;
};

/**
 * A segment boundary mask the page builder can honour: 2^k − 1 with k ≤ 53 (as
 * `dma_get_seg_boundary()` masks are), and no smaller than `PAGE_SIZE − 1`, the floor
 * `blk_validate_limits()` (`block/blk-settings.c`) enforces with `-EINVAL`, since a page must fit
 * between two boundaries. Returns the failure, or `undefined` when the mask is usable.
 */
export const boundaryMaskProblem = (mask: number): KResult<never> | undefined => {
  if (!isLowMask(mask)) {
    return fail('EINVAL', `segment boundary mask ${mask} is not of the form 2^k - 1`, { mask });
  }
  if (mask < PAGE_SIZE - 1) {
    return fail(
      'EINVAL',
      `segment boundary mask ${hex(mask)} is below PAGE_SIZE - 1 (${hex(PAGE_SIZE - 1)}): segments would have to split inside a page`,
      { mask, pageSize: PAGE_SIZE },
    );
  }
  return undefined;
};

/** True when `x` is 2^k − 1 for some k in 1..53. */
export const isLowMask = (x: number): boolean => Number.isSafeInteger(x) && x >= 1 && isPow2(x + 1);
