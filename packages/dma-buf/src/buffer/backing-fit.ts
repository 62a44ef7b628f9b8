import { PAGE_SIZE } from '@sharedbuf/platform';
import {
  type AttacherConstraints,
  type AttachmentPath,
  type PhysRun,
  type SatisfiesResult,
  satisfies,
  segmentsForAttachment,
} from '../constraints/index.js';

/**
 * Whether a backing laid out as `runs` serves an attacher: the segment list its device would get
 * (direct, or one IOVA range behind an IOMMU) checked field by field. A device that cannot reach the
 * memory but accepts bouncing is served by swiotlb, when the machine has one.
 */
export const backingFits = (
  runs: readonly PhysRun[],
  c: AttacherConstraints,
  bouncePool: number | undefined,
  forcedBounce: boolean,
): SatisfiesResult => {
  if (forcedBounce && bouncePool !== undefined) return bouncedFits(runs, c, bouncePool);
  const path: AttachmentPath = c.behindIommu ? { kind: 'iommu', iova: 0 } : { kind: 'direct' };
  const verdict = satisfies(segmentsForAttachment(runs, c, path), c);
  if (!verdict.ok && verdict.field === 'dmaLimit' && c.acceptsBounce && bouncePool !== undefined) {
    return bouncedFits(runs, c, bouncePool);
  }
  return verdict;
};

/** swiotlb promises at most page alignment, whatever slots are free (swiotlb_search_pool_area). */
const bouncedFits = (runs: readonly PhysRun[], c: AttacherConstraints, pool: number): SatisfiesResult =>
  c.alignment > PAGE_SIZE
    ? {
        ok: false,
        field: 'alignment',
        message: `${c.attacher} needs ${c.alignment}-byte alignment, more than a bounce buffer promises`,
      }
    : satisfies(segmentsForAttachment(runs, c, { kind: 'bounce', poolAddress: pool }), c);
