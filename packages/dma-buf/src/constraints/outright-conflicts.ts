import { alignUp, hex, PAGE_SIZE } from '@sharedbuf/platform';
import { type AttacherConstraints, boundaryWindow, entrySize, segmentLimit } from './attacher-constraints.js';
import type { CombinedConstraints } from './combined-constraints.js';
import type { ConflictCertificate, ConstraintField, ImposedConstraint } from './conflict-certificate.js';
import { countSplit } from './segment-split.js';
import { formatBytes, formatCount, formatNames, pow2Ceil, verb } from './units.js';

interface SelfConflict {
  readonly field: ConstraintField;
  readonly imposed: ImposedConstraint;
  readonly sentence: string;
}

/** The longest buffer an attacher can take in `limit` segments with the best (aligned, contiguous) placement. */
export const largestBufferFor = (c: AttacherConstraints): number => {
  const piece = entrySize(c);
  const window = boundaryWindow(c);
  const limit = segmentLimit(c);
  if (limit === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  const perWindow = Math.ceil(window / piece);
  const fullWindows = Math.floor(limit / perWindow);
  const bytes = fullWindows * window + Math.min((limit - fullWindows * perWindow) * piece, window);
  return bytes >= PAGE_SIZE ? bytes - (bytes % PAGE_SIZE) : bytes;
};

/**
 * A conflict between an attacher's own limits and the buffer size, which no heap can fix: one range
 * needed but its segments or boundary window are smaller than the buffer; more segments needed than
 * it accepts even with a perfectly placed contiguous block; an IOVA window smaller than the buffer.
 */
const selfConflict = (c: AttacherConstraints, size: number): SelfConflict | undefined => {
  const piece = entrySize(c);
  const window = boundaryWindow(c);
  const best = countSplit(0, size, piece, window);
  const limit = segmentLimit(c);
  const who = c.attacher;
  if (c.needsContiguousDma && best > 1) {
    return piece < size
      ? {
          field: 'maxSegmentSize',
          imposed: { attacher: who, value: c.maxSegmentSize },
          sentence: `${who} needs the buffer as one DMA range but takes segments of at most ${formatBytes(c.maxSegmentSize)}; use buffers of at most ${formatBytes(piece)} for it`,
        }
      : {
          field: 'segmentBoundary',
          imposed: { attacher: who, value: c.segmentBoundaryMask },
          sentence: `${who} needs one DMA range that must not cross a ${formatBytes(window)} boundary; use buffers of at most ${formatBytes(window)} for it`,
        };
  }
  if (best > limit) {
    return {
      field: 'maxSegmentCount',
      imposed: { attacher: who, value: limit },
      sentence: `${who} accepts at most ${formatCount(limit)} segments of ${formatBytes(piece)}, so even a perfectly placed contiguous buffer needs ${best}; use buffers of at most ${formatBytes(largestBufferFor(c))} for it`,
    };
  }
  const iovaStart = alignUp(c.dmaBase, Math.max(pow2Ceil(size), c.alignment));
  if (c.behindIommu && iovaStart + size - 1 > c.dmaLimit) {
    return {
      field: 'dmaLimit',
      imposed: { attacher: who, value: c.dmaLimit },
      sentence: `${who}'s IOVA window ${hex(c.dmaBase)}..${hex(c.dmaLimit)} cannot hold an aligned ${formatBytes(size)} range; widen its DMA mask or IOMMU aperture`,
    };
  }
  return undefined;
};

const certificate = (
  size: number,
  field: ConstraintField,
  imposedBy: readonly ImposedConstraint[],
  combined: ConflictCertificate['combined'],
  message: string,
): ConflictCertificate => ({ field, size, imposedBy, combined, heapsTried: [], message });

const protectedConflict = (size: number, combined: CombinedConstraints): ConflictCertificate | undefined => {
  const { requiresProtected: req, forbidsProtected: forb } = combined;
  if (!req.value || !forb.value) return undefined;
  return certificate(
    size,
    'protected',
    [
      ...req.imposedBy.map((attacher) => ({ attacher, value: true })),
      ...forb.imposedBy.map((attacher) => ({ attacher, value: false })),
    ],
    true,
    `${formatNames(req.imposedBy)} ${verb(req.imposedBy, 'requires', 'require')} protected memory, which ${formatNames(forb.imposedBy)} cannot access: they cannot share one buffer; give the protected stage its own buffer`,
  );
};

const heapListConflict = (size: number, combined: CombinedConstraints): ConflictCertificate | undefined => {
  const heaps = combined.permittedHeaps;
  if (heaps.value === null || heaps.value.length > 0) return undefined;
  const lists = combined.attachers.filter((c) => c.permittedHeaps !== undefined);
  return certificate(
    size,
    'permittedHeaps',
    lists.map((c) => ({ attacher: c.attacher, value: c.permittedHeaps ?? [] })),
    [],
    `no heap is permitted by all of ${formatNames(heaps.imposedBy)} (${lists.map((c) => `${c.attacher}: ${(c.permittedHeaps ?? []).join(', ') || 'none'}`).join('; ')}); widen one of their heap lists`,
  );
};

/**
 * Conflicts among the constraints themselves, before any heap is looked at (EINVAL): protected
 * memory both required and refused, permitted-heap lists with no common heap, and attachers whose
 * own limits cannot take a buffer this size (the first such field, with every attacher it hits).
 */
export const outrightConflict = (
  size: number,
  combined: CombinedConstraints,
): ConflictCertificate | undefined => {
  const general = protectedConflict(size, combined) ?? heapListConflict(size, combined);
  if (general !== undefined) return general;
  const conflicts = combined.attachers
    .map((c) => selfConflict(c, size))
    .filter((x): x is SelfConflict => x !== undefined);
  const first = conflicts[0];
  if (first === undefined) return undefined;
  const same = conflicts.filter((x) => x.field === first.field);
  const combinedValue: Partial<Record<ConstraintField, number>> = {
    maxSegmentSize: combined.maxSegmentSize.value,
    segmentBoundary: combined.segmentBoundaryMask.value,
    maxSegmentCount: combined.maxSegmentCount.value,
  };
  return certificate(
    size,
    first.field,
    same.map((x) => x.imposed),
    combinedValue[first.field] ?? first.imposed.value,
    `a ${formatBytes(size)} buffer cannot work: ${same.map((x) => x.sentence).join('; ')}`,
  );
};
