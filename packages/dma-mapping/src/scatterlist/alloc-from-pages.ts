import { fail, type KResult, PAGE_SIZE } from '@sharedbuf/platform';
import { beginFill, filled } from './builder-target.js';
import { ADDRESS_LIMIT, boundaryMaskProblem, maxSegmentProblem } from './segment-limits.js';
import type { SgTable } from './sg-table.js';

// Transpiled imports are read through getters (tsx, vite): the per-page loops use module copies.
const PAGE = PAGE_SIZE;
const MAX_PFN = ADDRESS_LIMIT / PAGE;

/**
 * `sg_alloc_table_from_pages_segment()` (`lib/scatterlist.c`, via
 * `sg_alloc_append_table_from_pages()` on an empty append table): builds a table describing `size`
 * bytes that start `offset` bytes into the first of the page frames `pfns`, squashing runs of
 * physically contiguous pages into one entry.
 *
 * From Linux: `maxSegment` is rounded down to a page multiple and must stay ≥ `PAGE_SIZE`
 * (`-EINVAL`); a run is cut when the next page is not the next frame or when the entry already
 * holds `maxSegment / PAGE_SIZE` pages (the count is of whole pages, so the first entry, which
 * starts `offset` into its page, is `offset` bytes shorter); `offset` applies to the first entry and
 * the last is trimmed to `size`.
 *
 * The model's extension: a run is also cut where a page starts a new `segmentBoundaryMask + 1`
 * window, so no entry crosses the device's segment boundary and the table can be mapped without an
 * IOMMU. The default mask (`Number.MAX_SAFE_INTEGER`) means no boundary, i.e. Linux's behaviour.
 *
 * Linux takes the page count from the caller and trusts it; the model derives it as
 * `ceil((offset + size) / PAGE_SIZE)` and ignores frames beyond it (so a caller can reuse a larger
 * pfn buffer). Refills `table` when given (allocating nothing when it has room), else returns a new
 * table; `nents === origNents` and the device side is zeroed, as after `sg_alloc_table()`.
 *
 * Errors (`EINVAL`, table unchanged): `maxSegment` below a page or above `UINT_MAX`; a boundary mask
 * not 2^k − 1 or below `PAGE_SIZE − 1`; `offset` outside the first page; `size` not ≥ 1; fewer frames
 * than the bytes need; a frame that is not a page of the 2^52-byte physical space.
 */
export const sgAllocTableFromPages = (
  table: SgTable | undefined,
  pfns: ArrayLike<number>,
  offset: number,
  size: number,
  maxSegment: number,
  segmentBoundaryMask: number = Number.MAX_SAFE_INTEGER,
): KResult<SgTable> => {
  const bad =
    maxSegmentProblem(maxSegment) ??
    boundaryMaskProblem(segmentBoundaryMask) ??
    extentProblem(pfns, offset, size);
  if (bad !== undefined) return bad;
  const nPages = Math.ceil((offset + size) / PAGE);
  const maxPages = Math.floor(maxSegment / PAGE);
  const windowPages = (segmentBoundaryMask + 1) / PAGE;

  // First pass, as the kernel's: check every frame and count the entries, before touching the table.
  let chunks = 1;
  let limit = 0;
  for (let j = 0; j < nPages; j++) {
    const pfn = pfns[j]!;
    if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= MAX_PFN) return badPfn(j, pfn);
    if (j === 0 || startsEntry(pfns[j - 1]!, pfn, limit)) {
      if (j > 0) chunks++;
      limit = entryLimit(pfn, maxPages, windowPages);
    }
  }

  const target = beginFill(table, chunks);
  let start = 0;
  let remaining = size;
  limit = entryLimit(pfns[0]!, maxPages, windowPages);
  for (let j = 1; j <= nPages; j++) {
    if (j < nPages && !startsEntry(pfns[j - 1]!, pfns[j]!, limit)) continue;
    const skip = start === 0 ? offset : 0;
    const length = Math.min((j - start) * PAGE - skip, remaining);
    target.append(pfns[start]! * PAGE + skip, length);
    remaining -= length;
    start = j;
    if (j < nPages) limit = entryLimit(pfns[j]!, maxPages, windowPages);
  }
  return filled(target);
};

/**
 * The first frame that may not join an entry starting at `pfn`: the entry is full at
 * `max_segment / PAGE_SIZE` pages (the kernel's `seg_len >= max_segment`), and, the model's
 * extension, it stops at the next boundary window.
 */
const entryLimit = (pfn: number, maxPages: number, windowPages: number): number =>
  Math.min(pfn + maxPages, (Math.floor(pfn / windowPages) + 1) * windowPages);

/**
 * Whether frame `pfn` must begin a new entry after `prev`: it is not the next frame
 * (`pages_are_mergeable()`), or it reaches the current entry's `limit` (see {@link entryLimit}).
 */
const startsEntry = (prev: number, pfn: number, limit: number): boolean => pfn !== prev + 1 || pfn >= limit;

/** Why `offset`/`size` cannot describe bytes of `pfns`, or `undefined` when they can. */
const extentProblem = (pfns: ArrayLike<number>, offset: number, size: number): KResult<never> | undefined => {
  if (!Number.isInteger(offset) || offset < 0 || offset >= PAGE) {
    return fail('EINVAL', `offset ${offset} does not lie within the first page (0..${PAGE - 1})`, {
      offset,
    });
  }
  if (!Number.isSafeInteger(size) || size < 1 || size > ADDRESS_LIMIT) {
    return fail('EINVAL', `size ${size} is not a byte count of at least 1`, { size });
  }
  const nPages = Math.ceil((offset + size) / PAGE);
  if (pfns.length < nPages) {
    return fail(
      'EINVAL',
      `${size} bytes at offset ${offset} span ${nPages} pages but only ${pfns.length} page frames were given`,
      { offset, size, pagesNeeded: nPages, pagesGiven: pfns.length },
    );
  }
  return undefined;
};

const badPfn = (index: number, pfn: number): KResult<never> =>
  fail('EINVAL', `page frame ${pfn} at index ${index} is not a page of physical memory`, {
    index,
    pfn,
    maxPfn: MAX_PFN - 1,
  });
