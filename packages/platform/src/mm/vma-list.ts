import { canMerge, sliceVma, type Vma } from './vma.js';

/**
 * An mm's VMAs as a sorted array of non-overlapping immutable values (the kernel keeps them in a
 * maple tree). Edits are pure: they build the next array, so a call can check the result (e.g. the
 * map count) before committing it, and a failed call changes nothing.
 */

/** Index of the VMA containing `addr`, or -1 (`find_vma` followed by the `vm_start <= addr` check). */
export const vmaIndexOf = (vmas: readonly Vma[], addr: number): number => {
  let lo = 0;
  let hi = vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = vmas[mid] as Vma;
    if (addr < v.start) hi = mid - 1;
    else if (addr >= v.end) lo = mid + 1;
    else return mid;
  }
  return -1;
};

/** Index of the first VMA ending above `addr` (`find_vma`), or `vmas.length`. */
export const firstVmaEndingAbove = (vmas: readonly Vma[], addr: number): number => {
  let lo = 0;
  let hi = vmas.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((vmas[mid] as Vma).end <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/** True when some VMA overlaps `[start, end)` (`find_vma_intersection`). */
export const overlapsAny = (vmas: readonly Vma[], start: number, end: number): boolean => {
  const v = vmas[firstVmaEndingAbove(vmas, start)];
  return v !== undefined && v.start < end;
};

/** The result of cutting `[start, end)` out of a VMA list. */
export interface Carved {
  /** Every VMA part outside the range, in order: the list after an unmap. */
  readonly outside: Vma[];
  /** The VMA parts inside the range, in order (split at the range's edges as `split_vma` does). */
  readonly inside: Vma[];
}

/** Splits the VMAs straddling `start` and `end` and separates the parts inside the range. */
export const carve = (vmas: readonly Vma[], start: number, end: number, pageSize: number): Carved => {
  const first = firstVmaEndingAbove(vmas, start);
  const outside = vmas.slice(0, first);
  const inside: Vma[] = [];
  for (let i = first; i < vmas.length; i++) {
    const v = vmas[i] as Vma;
    if (v.start >= end) {
      outside.push(v);
      continue;
    }
    if (v.start < start) outside.push(sliceVma(v, v.start, start, pageSize));
    inside.push(sliceVma(v, Math.max(v.start, start), Math.min(v.end, end), pageSize));
    if (v.end > end) outside.push(sliceVma(v, end, v.end, pageSize));
  }
  return { outside, inside };
};

/**
 * Inserts `vma` into a list with a hole where it goes, merging it with the previous and next VMA
 * when `vma_merge` would (mmap's and mprotect's merge of a new or changed range with its neighbours).
 */
export const insertMerged = (vmas: readonly Vma[], vma: Vma, pageSize: number): Vma[] => {
  const at = firstVmaEndingAbove(vmas, vma.start);
  const prev = vmas[at - 1];
  const next = vmas[at];
  let merged = vma;
  let from = at;
  let to = at;
  if (prev !== undefined && canMerge(prev, merged, pageSize)) {
    merged = { ...prev, end: merged.end };
    from = at - 1;
  }
  if (next !== undefined && canMerge(merged, next, pageSize)) {
    merged = { ...merged, end: next.end };
    to = at + 1;
  }
  return [...vmas.slice(0, from), merged, ...vmas.slice(to)];
};
