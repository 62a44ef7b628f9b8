import type { IovaRange } from '@sharedbuf/iommu';

/** One occupied range of a device's IOVA space, and who put it there through which call. */
export interface IovaLayoutEntry {
  readonly iova: number;
  readonly size: number;
  readonly owner: string;
  /** The call that placed it (`iova_alloc_at + map_page_at`, `dma_map_page`, `iommu_map`, …). */
  readonly via: string;
  /** What the device read at `iova` at the end of the run. */
  readonly deviceReads: string;
}

/** The layout in address order. */
export const sortLayout = (entries: readonly IovaLayoutEntry[]): IovaLayoutEntry[] =>
  [...entries].sort((a, b) => a.iova - b.iova);

/** Pairs of entries whose ranges intersect (none, when every allocator kept clear of the others). */
export const overlaps = (sorted: readonly IovaLayoutEntry[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.iova < a.iova + a.size) out.push([a.owner, b.owner]);
  }
  return out;
};

/** True when an allocator range covers the whole entry: the allocator knows the space is taken. */
export const coveredBy = (e: IovaLayoutEntry, ranges: readonly IovaRange[], granule: number): boolean =>
  ranges.some((r) => r.pfnLo * granule <= e.iova && (r.pfnHi + 1) * granule >= e.iova + e.size);
