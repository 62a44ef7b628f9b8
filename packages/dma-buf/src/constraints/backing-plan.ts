import type { ChunkGroup } from './chunk-layout.js';
import type { HeapKind } from './heap-capabilities.js';
import type { PathKind } from './plan-context.js';

/** One attachment in a plan: how it reaches the backing and how many DMA segments it will see. */
export interface PlannedAttachment {
  readonly attacher: string;
  readonly path: PathKind;
  /** Most DMA segments its mapping can have (its own table, cut at its own limits). */
  readonly segments: number;
  /** `segments` is the count for every placement the plan allows, not only a bound. */
  readonly exact: boolean;
}

/**
 * The backing a buffer for these attachers would get, and why — the answer of `planBacking`, which
 * allocates nothing. Exporters allocate by it; pipeline authors read it.
 */
export interface BackingPlan {
  /** Buffer size, rounded up to pages. */
  readonly size: number;
  readonly heap: string;
  readonly heapKind: HeapKind;
  /** The backing is one physically contiguous block. */
  readonly physicallyContiguous: boolean;
  /** Chunks in buffer order, largest first (one group of one block when contiguous). */
  readonly chunks: readonly ChunkGroup[];
  /** Smallest chunk size of a scattered backing, whose chunks are naturally aligned; 0 for one contiguous block. */
  readonly chunkFloor: number;
  /** Bytes the chunks occupy (more than `size` when the last chunk is partly used). */
  readonly backingBytes: number;
  /** Highest physical address any chunk may use. */
  readonly maxAddress: number;
  /** Alignment of the first byte's physical address. */
  readonly alignment: number;
  /** Longest entry of a single shared sg table that suits every attacher at once (the RFC's view). */
  readonly segmentSize: number;
  /** Entries of that shared table, at most. */
  readonly expectedSegmentCount: number;
  readonly attachers: readonly PlannedAttachment[];
  /** Attachers that may be handed swiotlb bounce copies. */
  readonly bounced: readonly string[];
  /** Some attacher is not cache-coherent: CPU access needs begin/end_cpu_access maintenance. */
  readonly cpuNeedsCacheMaintenance: boolean;
  /** Why this backing, in words a pipeline author can check. */
  readonly reasons: readonly string[];
}
