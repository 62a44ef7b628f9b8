import { alignDown, isPow2, PAGE_SIZE } from '@sharedbuf/platform';
import { NO_LIMIT } from './units.js';

/**
 * What one attaching device needs from a shared buffer: the limits its DMA engine and bus imply, plus
 * the extra constraints a caller adds. It models the per-device input of the dma-buf constraint RFC
 * (`struct device_dma_parameters` with `max_segment_count`, Sumit Semwal's "dma-buf: add helpers for
 * sharing attacher constraints with dma-parms"), widened with the address limit, alignment,
 * coherency and bounce fields the RFC left out.
 *
 * Addresses: `dmaBase`/`dmaLimit` are in the device's own DMA address space (bus addresses without an
 * IOMMU, IOVAs behind one), as Russell King insisted in the RFC review ("the DMA mask is the upper
 * limit of the bus specific address"). {@link physicalLimit} turns them into a physical limit.
 */
export interface AttacherConstraints {
  /** The attaching device's name, used in certificates and reports. */
  readonly attacher: string;
  /** Longest DMA segment the device takes, in bytes (`dma_get_max_seg_size`). */
  readonly maxSegmentSize: number;
  /** Most DMA segments it takes for one buffer (the RFC's `max_segment_count`); Infinity = unlimited. */
  readonly maxSegmentCount: number;
  /** No segment may cross a multiple of this mask + 1 (`dma_get_seg_boundary`); the form is 2^k − 1. */
  readonly segmentBoundaryMask: number;
  /** Lowest DMA address the device may be given (the IOMMU aperture start; 0 without an IOMMU). */
  readonly dmaBase: number;
  /** Highest DMA address the device can emit: min of its mask, the bus limit and any IOMMU aperture. Any value. */
  readonly dmaLimit: number;
  /**
   * The bus window offset `cpu_start − dma_start` of `struct bus_dma_region`: physical = DMA + offset.
   * Only meaningful without an IOMMU (0 behind one). Negative when the bus sees RAM higher than the CPU.
   */
  readonly dmaRangeOffset: number;
  /** Required alignment of the buffer's first DMA address, a power of two (from `min_align_mask` and extras). */
  readonly alignment: number;
  /** The device needs the whole buffer as one DMA range (one segment). */
  readonly needsContiguousDma: boolean;
  /** DMA goes through an IOMMU: the device's addresses are IOVAs, physical pages may scatter. */
  readonly behindIommu: boolean;
  /** The device snoops CPU caches (`dev_is_dma_coherent`). */
  readonly coherent: boolean;
  /** The device may be handed a swiotlb bounce copy when the buffer is beyond its reach (a scanout engine never is). */
  readonly acceptsBounce: boolean;
  /** Heaps the caller allows for this attachment; absent = any heap. */
  readonly permittedHeaps?: readonly string[];
  /** true = needs protected memory; false = cannot access protected memory; absent = either. */
  readonly protected?: boolean;
}

/** A device with no limit at all, no IOMMU, coherent: the neutral element of combination. */
export const unconstrainedAttacher = (attacher: string): AttacherConstraints => ({
  attacher,
  maxSegmentSize: NO_LIMIT,
  maxSegmentCount: Number.POSITIVE_INFINITY,
  segmentBoundaryMask: NO_LIMIT,
  dmaBase: 0,
  dmaLimit: NO_LIMIT,
  dmaRangeOffset: 0,
  alignment: 1,
  needsContiguousDma: false,
  behindIommu: false,
  coherent: true,
  acceptsBounce: true,
});

/**
 * Highest physical address the device reaches without help: `dmaLimit + dmaRangeOffset` without an
 * IOMMU (`dma_capable` after `phys_to_dma`); {@link NO_LIMIT} behind an IOMMU, whose IOVA limit the
 * IOMMU layer handles while the pages may lie anywhere.
 */
export const physicalLimit = (c: AttacherConstraints): number =>
  c.behindIommu ? NO_LIMIT : Math.min(NO_LIMIT, c.dmaLimit + c.dmaRangeOffset);

/** Segments the device accepts: 1 when it needs one DMA range, else its `maxSegmentCount`. */
export const segmentLimit = (c: AttacherConstraints): number =>
  c.needsContiguousDma ? Math.min(1, c.maxSegmentCount) : c.maxSegmentCount;

/** The boundary window size, `segmentBoundaryMask + 1` (at most 2^53). */
export const boundaryWindow = (c: AttacherConstraints): number => c.segmentBoundaryMask + 1;

/**
 * The longest scatterlist entry built for the device: its max segment size rounded down to whole
 * pages, as `sg_alloc_table_from_pages_segment` does (lib/scatterlist.c); sub-page limits stay as they are.
 */
export const entrySize = (c: AttacherConstraints): number =>
  c.maxSegmentSize >= PAGE_SIZE ? alignDown(c.maxSegmentSize, PAGE_SIZE) : c.maxSegmentSize;

const isAddress = (x: number): boolean => Number.isSafeInteger(x) && x >= 0;

const bad = (c: AttacherConstraints, field: string, why: string): never => {
  throw new RangeError(`constraints of ${c.attacher}: ${field} ${why}`);
};

/**
 * Rejects a malformed constraint set (a set-up bug, so it throws): sizes and addresses must be safe
 * non-negative integers, the boundary mask of the form 2^k − 1, the alignment a power of two.
 */
export const checkAttacherConstraints = (c: AttacherConstraints): void => {
  if (!isAddress(c.maxSegmentSize) || c.maxSegmentSize < 1)
    bad(c, 'maxSegmentSize', 'must be an integer ≥ 1');
  const count = c.maxSegmentCount;
  if (!(count === Number.POSITIVE_INFINITY || (Number.isSafeInteger(count) && count >= 1))) {
    bad(c, 'maxSegmentCount', 'must be an integer ≥ 1 or Infinity');
  }
  if (!isAddress(c.segmentBoundaryMask) || !isPow2(c.segmentBoundaryMask + 1)) {
    bad(c, 'segmentBoundaryMask', 'must have the form 2^k − 1');
  }
  if (!isAddress(c.dmaBase) || !isAddress(c.dmaLimit) || c.dmaBase > c.dmaLimit) {
    bad(c, 'dmaBase/dmaLimit', 'must be addresses with dmaBase ≤ dmaLimit');
  }
  if (!Number.isSafeInteger(c.dmaRangeOffset)) bad(c, 'dmaRangeOffset', 'must be a safe integer');
  if (!isPow2(c.alignment)) bad(c, 'alignment', 'must be a power of two');
  if (c.permittedHeaps !== undefined && !c.permittedHeaps.every((h) => typeof h === 'string')) {
    bad(c, 'permittedHeaps', 'must be heap names');
  }
};
