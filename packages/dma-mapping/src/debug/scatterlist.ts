/**
 * What DMA debug reads of one `struct scatterlist` element: the CPU side (`sg_phys()`, `length`) as
 * passed to `dma_map_sg()`, and the device side (`sg_dma_address()`, `sg_dma_len()`) as filled in by
 * it. Only the first `mapped_ents` elements carry a meaningful device side: an IOMMU may merge
 * several CPU segments into one DMA segment.
 */
export interface DmaDebugSgEntry {
  readonly phys: number;
  readonly length: number;
  readonly dmaAddress: number;
  readonly dmaLength: number;
}
