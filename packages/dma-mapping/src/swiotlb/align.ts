import { IO_TLB_SEGSIZE, IO_TLB_SIZE } from './io-tlb.js';

const TWO_32 = 2 ** 32;

/**
 * `addr & mask` for a mask below 2^32 (the kernel's `unsigned int` alignment masks), exact for any
 * non-negative safe-integer address: the address is first cut to its low 32 bits arithmetically, so
 * the 32-bit operator never sees the high bits it would otherwise truncate wrongly.
 */
export const lowAnd = (addr: number, mask: number): number => ((addr % TWO_32) & mask) >>> 0;

/** `a & ~b` for two masks below 2^32 (used on masks, never on addresses). */
export const maskClear = (a: number, b: number): number => (a & ~b) >>> 0;

/** `a | b` for two masks below 2^32 (used on masks, never on addresses). */
export const maskOr = (a: number, b: number): number => (a | b) >>> 0;

/** True when `mask` is 0 or 2^k − 1 below 2^32, as an `unsigned int` alignment mask must be. */
export const isAlignMask = (mask: number): boolean =>
  Number.isInteger(mask) && mask >= 0 && mask < TWO_32 && (mask === 0 || ((mask + 1) & mask) === 0);

/**
 * `swiotlb_align_offset(dev, align_mask, addr)` (`kernel/dma/swiotlb.c`): how far into its allocation
 * a bounce buffer starts so that the address bits the device's `min_align_mask` covers match the
 * original's. Bits below `IO_TLB_SHIFT` become a byte offset inside the first slot; with an
 * `align_mask` wider than a slot, higher bits become whole padding slots (`pad_slots`).
 */
export const swiotlbAlignOffset = (minAlignMask: number, allocAlignMask: number, addr: number): number =>
  lowAnd(addr, minAlignMask & maskOr(allocAlignMask, IO_TLB_SIZE - 1));

/**
 * `swiotlb_max_mapping_size()` (`kernel/dma/swiotlb.c`): one segment of `IO_TLB_SEGSIZE` slots, less
 * the slots the `min_align_mask` search may have to skip at a segment's start
 * (`roundup(min_align_mask, IO_TLB_SIZE)`). Never below 0 (the kernel's `size_t` would wrap).
 */
export const swiotlbMaxMappingSize = (minAlignMask: number): number => {
  const minAlign = minAlignMask === 0 ? 0 : Math.ceil(minAlignMask / IO_TLB_SIZE) * IO_TLB_SIZE;
  return Math.max(0, IO_TLB_SIZE * IO_TLB_SEGSIZE - minAlign);
};

/**
 * `iommu_is_span_boundary(index, nr, shift, boundary_size)` (`include/linux/iommu-helper.h`): true when
 * `nr` slots from `index` would cross a multiple of `boundarySize` slots, counted from `shift` (the
 * pool's start in slots within the device's segment-boundary window). `boundarySize` is 2^k.
 */
export const isSpanBoundary = (index: number, nr: number, shift: number, boundarySize: number): boolean =>
  ((shift + index) % boundarySize) + nr > boundarySize;
