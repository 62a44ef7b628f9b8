import type { SgTable } from './sg-table.js';

/** One DMA segment of a mapped table: what the device is given. */
export interface SgDmaSegment {
  readonly dmaAddress: number;
  readonly length: number;
}

/**
 * The first `nents` DMA segments of `table` (`for_each_sgtable_dma_sg()` with `sg_dma_address()` and
 * `sg_dma_len()`), as objects. Allocates: for reports and tests, not for hot paths.
 */
export const sgDmaSegments = (table: SgTable): SgDmaSegment[] => {
  const out: SgDmaSegment[] = [];
  for (let i = 0; i < table.nents; i++)
    out.push({ dmaAddress: table.dmaAddress(i), length: table.dmaLength(i) });
  return out;
};
