import { ilog2, pow2 } from '@sharedbuf/platform';

/** One step of splitting a mapping: map or unmap `count` pages of `pgsize` bytes. */
export interface PgsizeSplit {
  pgsize: number;
  count: number;
}

const MAX_BIT = 63;
const TWO_32 = 2 ** 32;

/** Bit `b` of a bitmap held as a safe-integer number (no 32-bit truncation). */
const hasBit = (bitmap: number, b: number): boolean => Math.floor(bitmap / pow2(b)) % 2 === 1;

/** Trailing zeros of a uint32 that is not 0. */
const ctz32 = (x: number): number => 31 - Math.clz32(x & -x);

/**
 * `__ffs(x)`: index of the lowest set bit of an integer x ≥ 1. The value is split into exact 32-bit
 * halves by division first, so no bit above 31 is lost.
 */
const lowestBit = (x: number): number => {
  const lo = x % TWO_32;
  return lo !== 0 ? ctz32(lo) : 32 + ctz32(Math.floor(x / TWO_32));
};

/**
 * The page size and page count for the next step of mapping `size` bytes from `iova` to `paddr` —
 * `iommu_pgsize()` in drivers/iommu/iommu.c. It picks the largest supported page size that fits in
 * `size` and to which both addresses are aligned, then limits the count so that the run stops at the
 * next larger page size's boundary when the rest could be mapped with that larger page (the caller
 * loops, as `__iommu_map()` and `__iommu_unmap()` do).
 *
 * `pgsizeBitmap` is the domain's page-size bitmap as a number (bit n set = 2^n bytes supported); bits
 * above 31 are read exactly. Hot loops pass `out` to reuse one result object.
 * @throws RangeError when `size` is not a positive integer or no supported page size fits (the
 *   kernel's `BUG_ON(!pgsizes)`: the caller failed to check alignment to the smallest page size).
 */
export const iommuPgsize = (
  pgsizeBitmap: number,
  iova: number,
  paddr: number,
  size: number,
  out: PgsizeSplit = { pgsize: 0, count: 0 },
): PgsizeSplit => {
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
  out.pgsize = pgsize;
  out.count = Math.floor(span / pgsize);
  return out;
};
