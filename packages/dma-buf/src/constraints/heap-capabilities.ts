import { KiB, MiB } from './units.js';

/** The three heap kinds of drivers/dma-buf/heaps: the page-allocator system heap, CMA, and carveouts. */
export type HeapKind = 'system' | 'cma' | 'carveout';

/**
 * What planning needs to know about a heap, without allocating from it — the interface real heaps
 * implement. Every query counts only memory at or below `maxAddress` (a physical address).
 */
export interface HeapCapabilities {
  readonly name: string;
  readonly kind: HeapKind;
  /** Every buffer is one physically contiguous block (CMA, carveouts). */
  readonly physicallyContiguous: boolean;
  /** Chunk sizes a scattering heap allocates, largest first, powers of two; empty for contiguous heaps. */
  readonly chunkSizes: readonly number[];
  /** Lowest physical address the heap can place memory at. */
  readonly minAddress: number;
  /** Highest physical address the heap can place memory at. */
  readonly maxAddress: number;
  /** The heap hands out protected (secure) memory. */
  readonly protected: boolean;
  /** Longest free contiguous block ending at or below `maxAddress` whose start is `align`-aligned (default a page). */
  largestContiguousFree(maxAddress: number, align?: number): number;
  /** Free bytes at or below `maxAddress`. */
  freeBytes(maxAddress: number): number;
  /** How many naturally aligned free blocks of `chunkSize` lie wholly at or below `maxAddress`. */
  freeChunks(chunkSize: number, maxAddress: number): number;
}

/**
 * The Linux system heap's chunk sizes: orders 8, 4 and 0, i.e. 1 MiB, 64 KiB and 4 KiB, "designed to
 * match with the sizes often found in IOMMUs" (drivers/dma-buf/heaps/system_heap.c).
 */
export const SYSTEM_HEAP_CHUNK_SIZES: readonly number[] = [MiB, 64 * KiB, 4 * KiB];

const PREFERENCE: Readonly<Record<HeapKind, number>> = { system: 0, cma: 1, carveout: 2 };

/**
 * Heaps in planning order, least constrained first: system (scattered pages suit most), then CMA
 * (contiguous, shared with movable pages), then carveouts (reserved memory, used only when needed).
 */
export const byPreference = (heaps: readonly HeapCapabilities[]): HeapCapabilities[] =>
  heaps
    .map((h, i) => ({ h, i }))
    .sort((a, b) => PREFERENCE[a.h.kind] - PREFERENCE[b.h.kind] || a.i - b.i)
    .map((x) => x.h);
