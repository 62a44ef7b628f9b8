import type { Binding, CombinedConstraints } from './combined-constraints.js';
import { formatBytes, formatCount, formatLimit, formatNames } from './units.js';

const by = (b: Binding<unknown>): string => (b.imposedBy.length > 0 ? ` (${formatNames(b.imposedBy)})` : '');

const heapsLine = (c: CombinedConstraints): string => {
  const h = c.permittedHeaps;
  if (h.value === null) return 'heaps: any';
  if (h.value.length === 0)
    return `heaps: none — the lists of ${formatNames(h.imposedBy)} have no heap in common`;
  return `heaps: only ${h.value.join(', ')}${by(h)}`;
};

const protectedLine = (c: CombinedConstraints): string => {
  const req = c.requiresProtected;
  const forb = c.forbidsProtected;
  if (req.value && forb.value) {
    return `protected memory: required by ${formatNames(req.imposedBy)} but inaccessible to ${formatNames(forb.imposedBy)} — a conflict`;
  }
  if (req.value) return `protected memory: required${by(req)}`;
  if (forb.value) return `protected memory: refused${by(forb)}`;
  return 'protected memory: either';
};

/**
 * The combined constraints as lines a person reads, one per field, each naming the attachers that
 * bind it — what reports print under a buffer.
 */
export const explainConstraints = (c: CombinedConstraints): string[] => {
  const mask = c.segmentBoundaryMask;
  return [
    `${c.attachers.length} attacher(s)${c.attachers.length > 0 ? `: ${formatNames(c.attachers.map((a) => a.attacher))}` : ''}`,
    `physical placement limit: ${formatLimit(c.physLimit.value)}${by(c.physLimit)}; devices behind an IOMMU add none`,
    `max segment size: ${formatBytes(c.maxSegmentSize.value)}${by(c.maxSegmentSize)}`,
    `max segment count: ${formatCount(c.maxSegmentCount.value)}${by(c.maxSegmentCount)}`,
    `segment boundary: ${c.segmentBoundaryMask.imposedBy.length > 0 ? `${formatBytes(mask.value + 1)} windows` : 'none'}${by(mask)}`,
    `alignment: ${formatBytes(c.alignment.value)}${by(c.alignment)}; physical placement ${formatBytes(c.physAlignment.value)}`,
    c.needsPhysContiguous.value
      ? `physically contiguous: required by ${formatNames(c.needsPhysContiguous.imposedBy)}, which have no IOMMU and need one DMA range`
      : 'physically contiguous: no device demands it outright (segment limits may, for large buffers)',
    ...(c.needsIovaContiguous.value
      ? [
          `one IOVA range: needed by ${formatNames(c.needsIovaContiguous.imposedBy)}, behind an IOMMU (pages may scatter)`,
        ]
      : []),
    c.coherent.value
      ? 'cache coherency: every attacher is coherent'
      : `cache coherency: not coherent${by(c.coherent)} — CPU access needs cache maintenance`,
    c.acceptsBounce.value
      ? 'bounce buffers: accepted by all'
      : `bounce buffers: refused${by(c.acceptsBounce)}`,
    heapsLine(c),
    protectedLine(c),
  ];
};
