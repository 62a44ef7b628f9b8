import { dmaBitMask, isPow2, maskLimit } from '@sharedbuf/platform';
import { type AttacherConstraints, checkAttacherConstraints } from './attacher-constraints.js';
import { NO_LIMIT } from './units.js';

/** `dma_get_max_seg_size`'s answer when a device never set one (include/linux/dma-mapping.h). */
export const DEFAULT_MAX_SEGMENT_SIZE = 65536;

/**
 * A device's DMA description, as plain data: what `struct device` and its `dma_parms` say, plus the
 * RFC's segment count and the two facts only the driver knows (one range needed, bouncing refused).
 * Zero in `busDmaLimit`, `maxSegmentSize` or `segmentBoundaryMask` means "not set", as in the kernel.
 */
export interface DeviceDmaDescription {
  readonly name: string;
  /** Width of the streaming DMA mask (`DMA_BIT_MASK(bits)`), 1..64. */
  readonly dmaMaskBits: number;
  /** `dev->bus_dma_limit`, highest bus address the interconnect carries; 0 = none. */
  readonly busDmaLimit: number;
  /** `cpu_start − dma_start` of the device's dma-ranges window (physical = bus + offset); default 0. */
  readonly dmaRangeOffset?: number;
  readonly dmaParms: {
    readonly maxSegmentSize: number;
    readonly segmentBoundaryMask: number;
    readonly minAlignMask: number;
  };
  readonly coherent: boolean;
  readonly behindIommu: boolean;
  /** The IOMMU domain's aperture (`domain->geometry`), when behind an IOMMU; default: the whole space. */
  readonly iommuAperture?: { readonly start: number; readonly end: number };
  /** The RFC's `max_segment_count`; absent or 0 = unlimited. */
  readonly maxSegmentCount?: number;
  /** The engine needs one DMA range (e.g. a scanout engine without scatter-gather); default false. */
  readonly needsContiguous?: boolean;
  /** Whether a swiotlb bounce copy is acceptable; default true (dma-direct bounces silently). */
  readonly acceptsBounce?: boolean;
}

/** Constraints a caller adds to an attachment. They only ever tighten the device's own. */
export interface ConstraintExtras {
  readonly permittedHeaps?: readonly string[];
  /** true = the buffer must be protected memory; false = this attacher cannot access protected memory. */
  readonly protected?: boolean;
  /** Alignment of the first byte, a power of two. */
  readonly alignment?: number;
  readonly needsContiguous?: boolean;
  readonly maxSegmentCount?: number;
  readonly acceptsBounce?: boolean;
}

const countOrUnlimited = (n: number | undefined): number =>
  n === undefined || n === 0 ? Number.POSITIVE_INFINITY : n;

/**
 * The DMA address limit: min of the mask, `bus_dma_limit` and, behind an IOMMU, the aperture end —
 * `dma_capable` without an IOMMU, `iommu_dma_alloc_iova`'s `dma_limit` behind one (kernel/dma/direct.h,
 * drivers/iommu/dma-iommu.c).
 */
const dmaLimitOf = (desc: DeviceDmaDescription): number => {
  const aperture = desc.behindIommu ? desc.iommuAperture : undefined;
  const bus = desc.busDmaLimit > 0 ? desc.busDmaLimit : NO_LIMIT;
  return Math.min(maskLimit(dmaBitMask(desc.dmaMaskBits)), bus, aperture?.end ?? NO_LIMIT);
};

/**
 * Derives an attachment's constraints from its device. Contiguity is judged in the device's own
 * address space: a device behind an IOMMU that needs one range needs one IOVA range (pages may
 * scatter) and has no physical limit; a device without one reaches physical memory up to
 * `min(mask, bus_dma_limit) + dmaRangeOffset` and, if it needs one range, needs contiguous pages.
 * Throws `RangeError` on a malformed description (a set-up bug).
 */
export const constraintsFromDevice = (
  desc: DeviceDmaDescription,
  extras: ConstraintExtras = {},
): AttacherConstraints => {
  const mask = desc.dmaParms.minAlignMask;
  if (!Number.isSafeInteger(mask) || mask < 0 || !isPow2(mask + 1)) {
    throw new RangeError(`constraints of ${desc.name}: minAlignMask must be 2^k − 1`);
  }
  if (extras.alignment !== undefined && !isPow2(extras.alignment)) {
    throw new RangeError(`constraints of ${desc.name}: alignment must be a power of two`);
  }
  const c: AttacherConstraints = {
    attacher: desc.name,
    maxSegmentSize: desc.dmaParms.maxSegmentSize || DEFAULT_MAX_SEGMENT_SIZE,
    maxSegmentCount: Math.min(
      countOrUnlimited(desc.maxSegmentCount),
      countOrUnlimited(extras.maxSegmentCount),
    ),
    segmentBoundaryMask: desc.dmaParms.segmentBoundaryMask || NO_LIMIT,
    dmaBase: desc.behindIommu ? (desc.iommuAperture?.start ?? 0) : 0,
    dmaLimit: dmaLimitOf(desc),
    dmaRangeOffset: desc.behindIommu ? 0 : (desc.dmaRangeOffset ?? 0),
    alignment: Math.max(mask + 1, extras.alignment ?? 1),
    needsContiguousDma: (desc.needsContiguous ?? false) || (extras.needsContiguous ?? false),
    behindIommu: desc.behindIommu,
    coherent: desc.coherent,
    acceptsBounce: (desc.acceptsBounce ?? true) && (extras.acceptsBounce ?? true),
    ...(extras.permittedHeaps === undefined ? {} : { permittedHeaps: [...extras.permittedHeaps] }),
    ...(extras.protected === undefined ? {} : { protected: extras.protected }),
  };
  checkAttacherConstraints(c);
  return c;
};
