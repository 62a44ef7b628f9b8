import type { DmaMapping } from '@sharedbuf/dma-mapping';
import {
  type AttacherConstraints,
  type AttachmentPath,
  boundaryWindow,
  type DmaSegment,
  entrySize,
  type PhysRun,
  type SatisfiesResult,
  satisfies,
  segmentsForAttachment,
  splitInto,
} from '../constraints/index.js';

/**
 * Whether a backing laid out as `runs` serves an attacher: the segment list its device would get
 * (direct, or one IOVA range behind an IOMMU) checked field by field. A device that cannot reach the
 * memory but accepts bouncing is served by swiotlb, when the machine has one.
 */
export const backingFits = (
  runs: readonly PhysRun[],
  c: AttacherConstraints,
  canBounce: boolean,
): SatisfiesResult => {
  const path: AttachmentPath = c.behindIommu ? { kind: 'iommu', iova: 0 } : { kind: 'direct' };
  const verdict = satisfies(segmentsForAttachment(runs, c, path), c);
  if (!verdict.ok && verdict.field === 'dmaLimit' && c.acceptsBounce && canBounce) return { ok: true };
  return verdict;
};

/**
 * The CPU-side entries an exporter builds for one attachment (`map_dma_buf`): the backing's runs cut
 * at the attacher's max segment size and boundary windows, so the DMA layer never has to split.
 */
export const piecesFor = (
  runs: readonly PhysRun[],
  c: AttacherConstraints,
): { phys: number; length: number }[] => {
  const out: DmaSegment[] = [];
  for (const r of runs) splitInto(r.phys, r.length, entrySize(c), boundaryWindow(c), out);
  return out.map((s) => ({ phys: s.dmaAddress, length: s.length }));
};

/** Whether the machine's DMA API can bounce (it has a swiotlb pool). */
export const hasBouncePool = (dma: DmaMapping): boolean => dma.options.swiotlb !== undefined;
