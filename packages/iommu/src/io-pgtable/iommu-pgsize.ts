import { ilog2, pow2 } from '@sharedbuf/platform';

/** One step of splitting a mapping: map or unmap `count` pages of `pgsize` bytes. */
export interface PgsizeSplit {
  readonly pgsize: number;
  readonly count: number;
}

const MAX_BIT = 63;

/** Bit `b` of a bitmap held as a safe-integer number (no 32-bit truncation). */
const hasBit = (bitmap: number, b: number): boolean => Math.floor(bitmap / pow2(b)) % 2 === 1;

/** `__ffs(x)`: index of the lowest set bit of an integer x ≥ 1. */
const lowestBit = (x: number): number => {
  let b = 0;
  while (!hasBit(x, b)) b++;
  return b;
};

/**
 * The page size and page count for the next step of mapping `size` bytes from `iova` to `paddr` —
 * `iommu_pgsize()` in drivers/iommu/iommu.c. It picks the largest supported page size that fits in
 * `size` and to which both addresses are aligned, then limits the count so that the run stops at the
 * next larger page size's boundary when the rest could be mapped with that larger page (the caller
 * loops, as `__iommu_map()` and `__iommu_unmap()` do).
 *
 * `pgsizeBitmap` is the domain's page-size bitmap as a number (bit n set = 2^n bytes supported); bits
 * above 31 are read exactly.
 * @throws RangeError when `size` is not a positive integer or no supported page size fits (the
 *   kernel's `BUG_ON(!pgsizes)`: the caller failed to check alignment to the smallest page size).
 */
export const iommuPgsize = (pgsizeBitmap: number, iova: number, paddr: number, size: number): PgsizeSplit => {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`iommu_pgsize: bad size ${size}`);
  const sizeBit = ilog2(size);
  const alignBit = Math.min(iova > 0 ? lowestBit(iova) : MAX_BIT, paddr > 0 ? lowestBit(paddr) : MAX_BIT);
  let pgsizeBit = -1;
  for (let b = Math.min(sizeBit, alignBit, MAX_BIT); b >= 0 && pgsizeBit < 0; b--) {
    if (hasBit(pgsizeBitmap, b)) pgsizeBit = b;
  }
  if (pgsizeBit < 0) {
    throw new RangeError(`iommu_pgsize: no page size in the bitmap fits size ${size} at these alignments`);
  }
  const pgsize = pow2(pgsizeBit);
  let span = size;
  let nextBit = pgsizeBit + 1;
  while (nextBit <= MAX_BIT && !hasBit(pgsizeBitmap, nextBit)) nextBit++;
  if (nextBit <= MAX_BIT) {
    const next = pow2(nextBit);
    // A larger page is only reachable when both addresses sit at the same offset inside it.
    if (iova % next === paddr % next) {
      const offset = next - (iova % next);
      if (offset + next <= span) span = offset;
    }
  }
  return { pgsize, count: Math.floor(span / pgsize) };
};
