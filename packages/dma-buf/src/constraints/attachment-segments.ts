import { alignUp } from '@sharedbuf/platform';
import { type AttacherConstraints, boundaryWindow, entrySize } from './attacher-constraints.js';
import { type DmaSegment, type PhysRun, splitInto } from './segment-split.js';
import { pow2Ceil, SWIOTLB_MAX_SEGMENT } from './units.js';

/**
 * How an attachment reaches the backing: `direct` (dma-direct, bus = physical − offset), `iommu`
 * (one IOVA range starting at `iova`, laid out by the IOMMU layer) or `bounce` (swiotlb copies placed
 * from `poolAddress` on).
 */
export type AttachmentPath =
  | { readonly kind: 'direct' }
  | { readonly kind: 'iommu'; readonly iova: number }
  | { readonly kind: 'bounce'; readonly poolAddress: number };

const bouncePieces = (runs: readonly PhysRun[], c: AttacherConstraints, poolAddress: number): DmaSegment[] => {
  const pieces: DmaSegment[] = [];
  const maxPiece = Math.min(entrySize(c), SWIOTLB_MAX_SEGMENT);
  for (const run of runs) splitInto(run.phys, run.length, maxPiece, boundaryWindow(c), pieces);
  // Each bounced entry gets its own slots; a naturally aligned slot never crosses a boundary window.
  const out: DmaSegment[] = [];
  let cursor = poolAddress;
  for (const [i, p] of pieces.entries()) {
    const align = i === 0 ? Math.max(c.alignment, pow2Ceil(p.length)) : pow2Ceil(p.length);
    const addr = alignUp(cursor, align);
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
