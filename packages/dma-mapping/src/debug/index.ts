export * from './attrs.js';
export type * from './device.js';
export * from './direction.js';
export { DmaDebug, type DmaDebugOptions, type DmaDebugStats } from './dma-debug.js';
export type { DmaDebugEntry, DmaDebugEntryType, DmaDebugRange, DmaOwner, MapErrType } from './entry.js';
export { DMA_DEBUG_DYNAMIC_ENTRIES, PREALLOC_DMA_DEBUG_ENTRIES } from './entry-accounting.js';
export type * from './events.js';
export type * from './finding.js';
export type * from './scatterlist.js';
