import { alignUp } from '@sharedbuf/platform';
import { type AttacherConstraints, boundaryWindow, entrySize } from './attacher-constraints.js';
import { type DmaSegment, type PhysRun, splitInto } from './segment-split.js';
import { SWIOTLB_MAX_SEGMENT } from './units.js';

/**
 * How an attachment reaches the backing: `direct` (dma-direct, bus = physical − offset), `iommu`
 * (one IOVA range starting at `iova`, laid out by the IOMMU layer) or `bounce` (swiotlb copies placed
 * from the physical `poolAddress` on).
 */
export type AttachmentPath =
  | { readonly kind: 'direct' }
  | { readonly kind: 'iommu'; readonly iova: number }
  | { readonly kind: 'bounce'; readonly poolAddress: number };

/** swiotlb's slot size, `IO_TLB_SIZE` (include/linux/swiotlb.h): bounce copies start on slot boundaries. */
const IO_TLB_SIZE = 2048;

/**
 * Bounced entries each get their own slots from `poolAddress` (physical) on, the first at the
 * device's alignment, none straddling its boundary window — as `swiotlb_tbl_map_single` searches.
 */
const bouncePieces = (
  runs: readonly PhysRun[],
  c: AttacherConstraints,
  poolAddress: number,
): DmaSegment[] => {
  const pieces: DmaSegment[] = [];
  const window = boundaryWindow(c);
  const maxPiece = Math.min(entrySize(c), SWIOTLB_MAX_SEGMENT);
  for (const run of runs) splitInto(run.phys, run.length, maxPiece, window, pieces);
  const out: DmaSegment[] = [];
  let cursor = poolAddress - c.dmaRangeOffset;
  for (const [i, p] of pieces.entries()) {
    let addr = alignUp(cursor, i === 0 ? Math.max(IO_TLB_SIZE, c.alignment) : IO_TLB_SIZE);
    if (Math.floor(addr / window) !== Math.floor((addr + p.length - 1) / window))
      addr = alignUp(addr, window);
    out.push({ dmaAddress: addr, length: p.length });
    cursor = addr + p.length;
  }
  return out;
};

/**
 * The DMA segment list one attachment gets for a backing made of `runs` (in buffer order): each run
 * cut at the attacher's own boundary windows and max segment size (rounded down to pages), which is
 * what an exporter builds per attachment in `map_dma_buf` and what `dma_map_sgtable` then yields.
 * Behind an IOMMU the runs become one IOVA range, cut the way `__finalise_sg` cuts it.
 */
export const segmentsForAttachment = (
  runs: readonly PhysRun[],
  c: AttacherConstraints,
  path: AttachmentPath,
): DmaSegment[] => {
  const out: DmaSegment[] = [];
  const window = boundaryWindow(c);
  if (path.kind === 'iommu') {
    const total = runs.reduce((n, r) => n + r.length, 0);
    splitInto(path.iova, total, entrySize(c), window, out);
    return out;
  }
  if (path.kind === 'bounce') return bouncePieces(runs, c, path.poolAddress);
  for (const run of runs) splitInto(run.phys - c.dmaRangeOffset, run.length, entrySize(c), window, out);
  return out;
};
