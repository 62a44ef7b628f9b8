export type { Backing } from './backing.js';
export { CarveoutHeap, type CarveoutHeapOptions } from './carveout-heap.js';
export { CMA_ALIGNMENT, CmaHeap } from './cma-heap.js';
export { defaultHeaps } from './default-heaps.js';
export type { DmaHeap, HeapOptions } from './dma-heap.js';
export type { HeapEvents } from './heap-events.js';
export { HeapRegistry } from './heap-registry.js';
export { SystemHeap } from './system-heap.js';
