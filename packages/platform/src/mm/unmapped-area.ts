import type { Vma } from './vma.js';
import { firstVmaEndingAbove } from './vma-list.js';

/**
 * `unmapped_area_topdown` (mm/vma.c): the highest `length`-byte gap between VMAs that lies inside
 * `[low, high)`; returns its start, or -1 when none fits.
 */
export const unmappedAreaTopdown = (
  vmas: readonly Vma[],
  length: number,
  low: number,
  high: number,
): number => {
  const straddling = firstVmaEndingAbove(vmas, high);
  let gapEnd = Math.min(high, vmas[straddling]?.start ?? high);
  for (let i = straddling - 1; ; i--) {
    const below = vmas[i];
    const gapStart = below === undefined ? low : Math.max(below.end, low);
    if (gapEnd - gapStart >= length) return gapEnd - length;
    if (below === undefined || below.start <= low) return -1;
    gapEnd = below.start;
  }
};

/**
 * `unmapped_area` (mm/vma.c): the lowest `length`-byte gap inside `[low, high)`; its start, or -1.
 */
export const unmappedArea = (vmas: readonly Vma[], length: number, low: number, high: number): number => {
  let gapStart = low;
  for (let i = firstVmaEndingAbove(vmas, low); i <= vmas.length; i++) {
    const above = vmas[i];
    const gapEnd = above === undefined ? high : Math.min(above.start, high);
    if (gapEnd - gapStart >= length) return gapStart;
    if (above === undefined || above.end >= high) return -1;
    gapStart = Math.max(above.end, low);
  }
  return -1;
};
