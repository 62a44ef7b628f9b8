import type { HeapKind } from '../constraints/heap-capabilities.js';

/**
 * The events of the dma-buf heaps, on one `dma-heap` bus shared by a {@link HeapRegistry} and its
 * heaps. The allocators underneath report every page, CMA and carveout change on the platform's
 * `memory` bus; these say which buffer those changes were for.
 */
export type HeapEvents = {
  /** `dma_heap_add`: a heap was registered under `heap`. */
  'heap-add': { readonly heap: string; readonly kind: HeapKind };
  /** A buffer of `size` bytes in `runs` physical runs was allocated, all at or below `maxAddress`. */
  'heap-alloc': {
    readonly heap: string;
    readonly size: number;
    readonly runs: number;
    readonly maxAddress: number;
  };
  /** The buffer's memory went back to its allocator (the heap buffer's `release`). */
  'heap-free': { readonly heap: string; readonly size: number; readonly runs: number };
};
