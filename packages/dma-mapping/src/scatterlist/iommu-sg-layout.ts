import type { SgTable } from './sg-table.js';

/**
 * How `iommu_dma_map_sg` (drivers/iommu/dma-iommu.c) lays a table's entries out in one IOVA
 * allocation: each entry takes its granule-aligned span after the previous one, keeping its offset
 * in the granule; an entry that would cross a segment boundary is preceded by padding so it starts
 * on one. Writes each entry's offset from the allocation's start into its DMA address column and
 * returns the allocation's length. The caller adds the IOVA and merges (`mergeDmaSegments`).
 */
export const layoutIommuSg = (sgt: SgTable, granule: number, segmentBoundaryMask: number): number => {
  const window = segmentBoundaryMask + 1;
  let iovaLen = 0;
  for (let i = 0; i < sgt.origNents; i++) {
    const off = sgt.phys(i) % granule;
    const span = Math.ceil((sgt.length(i) + off) / granule) * granule;
    const padLen = (window - (iovaLen % window)) % window;
    if (padLen !== 0 && padLen < span) iovaLen += padLen;
    sgt.setDma(i, iovaLen + off, sgt.length(i));
    iovaLen += span;
  }
  return iovaLen;
};
