import { isPow2 } from '../core/address.js';

/**
 * A device's DMA segment limits (`struct device_dma_parameters`, `include/linux/device.h`), which
 * the DMA layer and scatterlist builders must respect.
 */
export interface DmaParms {
  /** Largest segment the device takes, in bytes (`max_segment_size`); any value, not only 2^k. */
  readonly maxSegmentSize: number;
  /** No segment may cross an address multiple of `mask + 1` (`segment_boundary_mask`, 2^k − 1). */
  readonly segmentBoundaryMask: number;
  /** Low address bits a bounce buffer must preserve (`min_align_mask`, 0 or 2^k − 1). */
  readonly minAlignMask: number;
  /**
   * Most segments the device takes in one buffer (`max_segment_count`): the field the dma-buf
   * attacher-constraints RFC adds to `device_dma_parameters` (seed 002; never merged). `Infinity`
   * when unlimited, as for every device Linux knows.
   */
  readonly maxSegmentCount: number;
}

/**
 * The values a device gets when nothing sets them: `dma_get_max_seg_size()`'s `SZ_64K` and no
 * minimum alignment (`include/linux/dma-mapping.h`), and a 4 GiB segment boundary — the value PCI
 * sets for every device (`pci_device_add`, `drivers/pci/probe.c`) and the one `dma_get_seg_boundary()`
 * returned before Linux 5.10; since then its generic fallback is `ULONG_MAX` (no boundary), which a
 * caller can request with `segmentBoundaryMask: Number.MAX_SAFE_INTEGER`.
 */
export const DEFAULT_DMA_PARMS: DmaParms = Object.freeze({
  maxSegmentSize: 65536,
  segmentBoundaryMask: 0xffff_ffff,
  minAlignMask: 0,
  maxSegmentCount: Number.POSITIVE_INFINITY,
});

const UINT_MAX = 0xffff_ffff;

/** True when `x` is 2^k − 1 for some k in 1..maxBits. */
const isLowMask = (x: number, maxBits: number): boolean =>
  Number.isSafeInteger(x) && x >= 1 && isPow2(x + 1) && x + 1 <= 2 ** maxBits;

/**
 * Why `parms` is not a valid set of DMA parameters, naming the field, or `undefined` when it is.
 * `max_segment_size` is an `unsigned int` of any value (drivers set e.g. `UINT_MAX` or 0x3fffff);
 * the boundary mask must be 2^k − 1 (`iommu_is_span_boundary` BUGs otherwise, `lib/iommu-helper.c`);
 * `min_align_mask` is an `unsigned int` used as a low-bits mask by swiotlb.
 */
export const dmaParmsProblem = (parms: DmaParms): string | undefined => {
  const { maxSegmentSize, segmentBoundaryMask, minAlignMask, maxSegmentCount } = parms;
  if (
    !(
      maxSegmentCount === Number.POSITIVE_INFINITY ||
      (Number.isSafeInteger(maxSegmentCount) && maxSegmentCount >= 1)
    )
  ) {
    return `dmaParms.maxSegmentCount ${maxSegmentCount} is neither a positive integer nor Infinity`;
  }
  if (!Number.isSafeInteger(maxSegmentSize) || maxSegmentSize < 1 || maxSegmentSize > UINT_MAX) {
    return `dmaParms.maxSegmentSize ${maxSegmentSize} is not an integer in 1..0xffffffff`;
  }
  if (!isLowMask(segmentBoundaryMask, 53)) {
    return `dmaParms.segmentBoundaryMask ${segmentBoundaryMask} is not of the form 2^k - 1`;
  }
  if (minAlignMask !== 0 && !isLowMask(minAlignMask, 32)) {
    return `dmaParms.minAlignMask ${minAlignMask} is neither 0 nor of the form 2^k - 1 below 2^32`;
  }
  return undefined;
};
