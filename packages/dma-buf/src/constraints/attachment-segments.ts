import {
  layoutIommuSg,
  mergeDmaSegments,
  sgAllocTableFromRanges,
  sgDmaSegments,
} from '@sharedbuf/dma-mapping';
import { alignUp, PAGE_SIZE, unwrap } from '@sharedbuf/platform';
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
    // swiotlb promises a page-aligned slot for a page or more, a slot otherwise — not the attacher's
    // own alignment (swiotlb_search_pool_area keeps only min_align_mask's low bits).
    let addr = alignUp(cursor, i === 0 && p.length >= PAGE_SIZE ? PAGE_SIZE : IO_TLB_SIZE);
    if (Math.floor(addr / window) !== Math.floor((addr + p.length - 1) / window))
      addr = alignUp(addr, window);
    out.push({ dmaAddress: addr, length: p.length });
    cursor = addr + p.length;
  }
  return out;
};

/** The IOMMU's page size the layout assumes (the SMMU's smallest). */
const IOMMU_GRANULE = 4096;

/** A CPU-side scatterlist entry an exporter builds: physical start and length. */
export interface SgEntry {
  readonly phys: number;
  readonly length: number;
}

/**
 * The scatterlist entries an exporter builds for one attachment (`map_dma_buf`), so that the DMA
 * layer gives the attacher exactly the segments its constraints allow:
 * - behind an IOMMU, the buffer is one IOVA range; the runs are cut where the ideal segments of that
 *   range end (max segment size, boundary windows), so dma-iommu's merge of whole entries
 *   (`__finalise_sg`) rebuilds those segments and never needs to split one;
 * - directly, each run is cut at the segment size and the physical boundary windows;
 * - bounced, pieces are also at most one swiotlb segment (`swiotlb_max_mapping_size`).
 */
export const attachmentEntries = (
  runs: readonly PhysRun[],
  c: AttacherConstraints,
  path: AttachmentPath['kind'],
): SgEntry[] => {
  const window = boundaryWindow(c);
  const out: DmaSegment[] = [];
  if (path === 'iommu') {
    const total = runs.reduce((n, r) => n + r.length, 0);
    const ideal: DmaSegment[] = [];
    splitInto(0, total, entrySize(c), window, ideal);
    let r = 0;
    let inRun = 0;
    for (const seg of ideal) {
      for (let left = seg.length; left > 0; ) {
        const run = runs[r] as PhysRun;
        const n = Math.min(left, run.length - inRun);
        out.push({ dmaAddress: run.phys + inRun, length: n });
        left -= n;
        inRun += n;
        if (inRun === run.length) [r, inRun] = [r + 1, 0];
      }
    }
  } else {
    const piece = path === 'bounce' ? Math.min(entrySize(c), SWIOTLB_MAX_SEGMENT) : entrySize(c);
    for (const run of runs) splitInto(run.phys, run.length, piece, window, out);
  }
  return out.map((p) => ({ phys: p.dmaAddress, length: p.length }));
};

/**
 * Behind an IOMMU: the exporter's entries laid out in one IOVA range from `iova` and merged exactly
 * as the DMA layer does it (`iommu_dma_map_sg` and `__finalise_sg`: whole entries merge, none is
 * split).
 */
const iommuSegments = (runs: readonly PhysRun[], c: AttacherConstraints, iova: number): DmaSegment[] => {
  const sgt = unwrap(sgAllocTableFromRanges(undefined, attachmentEntries(runs, c, 'iommu')));
  layoutIommuSg(sgt, IOMMU_GRANULE, c.segmentBoundaryMask);
  for (let i = 0; i < sgt.origNents; i++) sgt.setDma(i, iova + sgt.dmaAddress(i), sgt.length(i));
  mergeDmaSegments(sgt, c.maxSegmentSize, c.segmentBoundaryMask);
  return sgDmaSegments(sgt).map((s) => ({ dmaAddress: s.dmaAddress, length: s.length }));
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
  if (path.kind === 'iommu') return iommuSegments(runs, c, path.iova);
  if (path.kind === 'bounce') return bouncePieces(runs, c, path.poolAddress);
  for (const run of runs) splitInto(run.phys - c.dmaRangeOffset, run.length, entrySize(c), window, out);
  return out;
};
