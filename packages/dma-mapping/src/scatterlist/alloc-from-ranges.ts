import { fail, type KResult } from '@sharedbuf/platform';
import { beginFill, filled } from './builder-target.js';
import { ADDRESS_LIMIT, UINT_MAX } from './segment-limits.js';
import type { SgTable } from './sg-table.js';

/** A physically contiguous byte range: one scatterlist entry's CPU side. */
export interface SgRange {
  readonly phys: number;
  readonly length: number;
}

/**
 * `sg_alloc_table()` followed by one `sg_set_page()` per range (`lib/scatterlist.c`,
 * `include/linux/scatterlist.h`): one entry per range, in order, with no merging, for callers that
 * already have their segments. Refills `table` when given (allocating nothing when it has room),
 * else returns a new table; `nents === origNents` and the device side is zeroed.
 *
 * Errors (`EINVAL`, table unchanged): no ranges (`__sg_alloc_table()` refuses `nents == 0`); a
 * length that is not 1..`UINT_MAX` (`sg->length` is an `unsigned int`); a range outside the
 * 2^52-byte physical space.
 */
export const sgAllocTableFromRanges = (
  table: SgTable | undefined,
  ranges: readonly SgRange[],
): KResult<SgTable> => {
  if (ranges.length === 0) {
    return fail('EINVAL', 'a scatterlist needs at least one entry (sg_alloc_table with nents == 0)');
  }
  for (let i = 0; i < ranges.length; i++) {
    const { phys, length } = ranges[i]!;
    if (!Number.isSafeInteger(length) || length < 1 || length > UINT_MAX) {
      return fail('EINVAL', `range ${i}: length ${length} is not 1..UINT_MAX, as sg->length must be`, {
        index: i,
        length,
      });
    }
    if (!Number.isSafeInteger(phys) || phys < 0 || phys + length > ADDRESS_LIMIT) {
      return fail('EINVAL', `range ${i}: ${length} bytes at ${phys} lie outside physical memory`, {
        index: i,
        phys,
        length,
      });
    }
  }
  const target = beginFill(table, ranges.length);
  for (let i = 0; i < ranges.length; i++) {
    const { phys, length } = ranges[i]!;
    target.append(phys, length);
  }
  return filled(target);
};
