/**
 * The segment limits of `struct device_dma_parameters` that the scatter-gather checks read
 * (`dma_get_max_seg_size()`, `dma_get_seg_boundary()`).
 */
export interface DmaDebugDmaParms {
  readonly maxSegmentSize: number;
  /** A mask of the form 2^k − 1: a segment must not cross a (mask + 1)-aligned boundary. */
  readonly segmentBoundaryMask: number;
}

/**
 * What DMA debug needs of a `struct device`: its name, and optionally its DMA parameters. The
 * platform's `Device` satisfies it. Devices are told apart by identity, as the kernel compares
 * `struct device` pointers; the name only labels findings.
 */
export interface DmaDebugDevice {
  readonly name: string;
  readonly dmaParms?: DmaDebugDmaParms;
}
