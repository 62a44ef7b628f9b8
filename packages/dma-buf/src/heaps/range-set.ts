import type { FreeRange } from '../constraints/described-heap.js';

/**
 * `whole` minus `holes`: the parts of the ranges of `whole` (sorted, disjoint) no hole covers, in
 * address order. O(|whole| · |holes|), for the handful of ranges a heap region has.
 * @internal for the heaps of this folder.
 */
export const subtractRanges = (whole: readonly FreeRange[], holes: readonly FreeRange[]): FreeRange[] => {
  const sorted = holes.filter((h) => h.size > 0).sort((a, b) => a.base - b.base);
  const out: FreeRange[] = [];
  for (const r of whole) {
    let start = r.base;
    const end = r.base + r.size;
    for (const h of sorted) {
      const holeEnd = h.base + h.size;
      if (holeEnd <= start || h.base >= end) continue;
      if (h.base > start) out.push({ base: start, size: h.base - start });
      start = Math.max(start, holeEnd);
    }
    if (start < end) out.push({ base: start, size: end - start });
  }
  return out;
};
