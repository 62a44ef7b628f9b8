import { hex } from '@sharedbuf/platform';
import { type AttacherConstraints, boundaryWindow, segmentLimit } from './attacher-constraints.js';
import type { ConstraintField } from './conflict-certificate.js';
import type { DmaSegment } from './segment-split.js';
import { formatBytes, formatCount, formatLimit } from './units.js';

/** The verdict of {@link satisfies}: fine, or the first field violated and why. */
export type SatisfiesResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly field: ConstraintField; readonly message: string };

const violation = (field: ConstraintField, message: string): SatisfiesResult => ({
  ok: false,
  field,
  message,
});

const checkSegment = (s: DmaSegment, i: number, c: AttacherConstraints): SatisfiesResult | undefined => {
  const at = `segment ${i} at ${hex(s.dmaAddress)} (${formatBytes(s.length)})`;
  if (!(s.length > 0)) return violation('size', `${at} is empty`);
  if (s.length > c.maxSegmentSize) {
    return violation(
      'maxSegmentSize',
      `${at} is longer than ${c.attacher}'s ${formatBytes(c.maxSegmentSize)} limit`,
    );
  }
  const window = boundaryWindow(c);
  const end = s.dmaAddress + s.length - 1;
  if (Math.floor(s.dmaAddress / window) !== Math.floor(end / window)) {
    return violation('segmentBoundary', `${at} crosses a ${formatBytes(window)} boundary of ${c.attacher}`);
  }
  if (s.dmaAddress < c.dmaBase || end > c.dmaLimit) {
    return violation(
      'dmaLimit',
      `${at} lies outside ${c.attacher}'s DMA window ${hex(c.dmaBase)}..${formatLimit(c.dmaLimit)}`,
    );
  }
  return undefined;
};

/**
 * Checks a device's actual DMA segment list against its constraints: segment count (one range when
 * it needs contiguity), each segment's length, boundary crossings and DMA window, and the alignment
 * of the first address. The checks `dma_map_sg` callers and DMA-debug make, in one place.
 */
export const satisfies = (segments: readonly DmaSegment[], c: AttacherConstraints): SatisfiesResult => {
  if (segments.length === 0) return violation('size', `${c.attacher} was given no segments`);
  const limit = segmentLimit(c);
  if (segments.length > limit) {
    return violation(
      c.needsContiguousDma ? 'contiguity' : 'maxSegmentCount',
      `${c.attacher} got ${segments.length} segments but accepts ${formatCount(limit)}`,
    );
  }
  for (const [i, s] of segments.entries()) {
    const bad = checkSegment(s, i, c);
    if (bad !== undefined) return bad;
  }
  const first = (segments[0] as DmaSegment).dmaAddress;
  if (first % c.alignment !== 0) {
    return violation(
      'alignment',
      `${c.attacher} needs ${formatBytes(c.alignment)} alignment, got ${hex(first)}`,
    );
  }
  return { ok: true };
};
