export { sgAllocTableFromPages } from './alloc-from-pages.js';
export { type SgRange, sgAllocTableFromRanges } from './alloc-from-ranges.js';
export { type SgDmaSegment, sgDmaSegments } from './dma-segments.js';
export { layoutIommuSg } from './iommu-sg-layout.js';
export { mergeDmaSegments } from './merge-dma-segments.js';
export { SCATTERLIST_MAX_SEGMENT } from './segment-limits.js';
export { SgTable } from './sg-table.js';
