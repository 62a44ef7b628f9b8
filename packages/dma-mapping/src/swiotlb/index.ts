export { swiotlbAlignOffset, swiotlbMaxMappingSize } from './align.js';
export type { SwiotlbMapping } from './bounce-mappings.js';
export type * from './events.js';
export {
  IO_TLB_DEFAULT_SIZE,
  IO_TLB_SEGMENT_BYTES,
  IO_TLB_SEGSIZE,
  IO_TLB_SHIFT,
  IO_TLB_SIZE,
  SWIOTLB_MODEL_DEFAULT_SIZE,
} from './io-tlb.js';
export type { SwiotlbHost } from './pool-memory.js';
export type { SwiotlbBounceCounts, SwiotlbStats } from './stats.js';
export { Swiotlb, type SwiotlbOptions } from './swiotlb.js';
