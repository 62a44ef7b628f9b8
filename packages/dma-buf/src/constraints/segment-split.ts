/** One DMA segment as a device sees it: `sg_dma_address` and `sg_dma_len`. */
export interface DmaSegment {
  readonly dmaAddress: number;
  readonly length: number;
}

/** One physically contiguous run of the backing. */
export interface PhysRun {
  readonly phys: number;
  readonly length: number;
}

/**
 * How many pieces `[start, start + length)` becomes when cut at every multiple of `window` (a
 * segment boundary) and into pieces of at most `maxPiece`, greedily from the start — the split a
 * scatterlist builder or `__finalise_sg` (drivers/iommu/dma-iommu.c) makes. O(1), exact.
 */
export const countSplit = (start: number, length: number, maxPiece: number, window: number): number => {
  if (length <= 0) return 0;
  const first = Math.min(length, window - (start % window));
  const rest = length - first;
  const full = Math.floor(rest / window);
  const last = rest - full * window;
  return (
    Math.ceil(first / maxPiece) +
    full * Math.ceil(window / maxPiece) +
    (last > 0 ? Math.ceil(last / maxPiece) : 0)
  );
};

/**
 * True when every start aligned to `align` (and kept at or below `limit`) splits the same way as a
 * start at 0: the start is window-aligned, or the range fits one naturally aligned block inside a
 * window, or no window boundary lies below the limit. All sizes are powers of two except `length`.
 */
export const splitIsPlacementFree = (length: number, align: number, window: number, limit: number): boolean =>
  align >= window || window > limit || align >= length;

/**
 * The most pieces any `align`-aligned placement of `length` bytes below `limit` can give. Exact when
 * {@link splitIsPlacementFree}; otherwise the bound `ceil(length / maxPiece) + windows − 1`, where
 * `windows` is the most boundary windows such a range can touch (each cut adds at most one piece).
 */
export const worstCaseSplit = (
  length: number,
  align: number,
  maxPiece: number,
  window: number,
  limit: number,
): number => {
  if (splitIsPlacementFree(length, align, window, limit)) return countSplit(0, length, maxPiece, window);
  const windows = Math.floor((window - align + length - 1) / window) + 1;
  return maxPiece >= window ? windows : Math.ceil(length / maxPiece) + windows - 1;
};

/** Appends the pieces {@link countSplit} counts to `out`, as DMA segments. */
export const splitInto = (
  start: number,
  length: number,
  maxPiece: number,
  window: number,
  out: DmaSegment[],
): void => {
  let addr = start;
  let left = length;
  while (left > 0) {
    const len = Math.min(left, maxPiece, window - (addr % window));
    out.push({ dmaAddress: addr, length: len });
    addr += len;
    left -= len;
  }
};
