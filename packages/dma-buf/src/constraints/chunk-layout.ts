import { alignUp, PAGE_SIZE } from '@sharedbuf/platform';
import { type AttacherConstraints, boundaryWindow, entrySize, segmentLimit } from './attacher-constraints.js';
import { type HeapCapabilities, SYSTEM_HEAP_CHUNK_SIZES } from './heap-capabilities.js';
import { countSplit } from './segment-split.js';

/**
 * `count` equal chunks of `size` bytes, each naturally aligned, of which `used` bytes hold buffer
 * data (less than `size` only for a final partly used chunk).
 */
export interface ChunkGroup {
  readonly size: number;
  readonly count: number;
  readonly used: number;
}

type Take = (chunk: number, wanted: number, taken: readonly ChunkGroup[]) => number;

/**
 * Greedy decomposition, largest chunk first, as the system heap's `alloc_largest_available` does
 * (drivers/dma-buf/heaps/system_heap.c); a remainder below the smallest size takes one smallest chunk.
 */
const greedy = (size: number, sizesDesc: readonly number[], take: Take): ChunkGroup[] | undefined => {
  const groups: ChunkGroup[] = [];
  let rem = size;
  for (const chunk of sizesDesc) {
    const wanted = Math.floor(rem / chunk);
    const n = wanted > 0 ? take(chunk, wanted, groups) : 0;
    if (n > 0) groups.push({ size: chunk, count: n, used: chunk });
    rem -= n * chunk;
  }
  const smallest = sizesDesc[sizesDesc.length - 1];
  if (rem === 0) return groups;
  if (smallest === undefined || rem >= smallest || take(smallest, 1, groups) < 1) return undefined;
  groups.push({ size: smallest, count: 1, used: rem });
  return groups;
};

/** The layout when every chunk size is plentiful: the fewest, largest chunks. */
export const idealLayout = (size: number, sizesDesc: readonly number[]): ChunkGroup[] =>
  greedy(size, sizesDesc, (_chunk, wanted) => wanted) ?? [];

/**
 * The layout the heap can give below `limit` today: at each size, the free naturally aligned blocks
 * not already consumed by larger chunks. `undefined` when it runs out.
 */
export const availableLayout = (
  size: number,
  sizesDesc: readonly number[],
  heap: HeapCapabilities,
  limit: number,
): ChunkGroup[] | undefined =>
  greedy(size, sizesDesc, (chunk, wanted, taken) => {
    const consumed = taken.reduce((n, g) => n + (g.size >= chunk ? g.count * (g.size / chunk) : 0), 0);
    return Math.max(0, Math.min(wanted, heap.freeChunks(chunk, limit) - consumed));
  });

/** Segments a device gets from a layout without an IOMMU: each chunk cut at its windows and entry size. */
export const layoutSegments = (layout: readonly ChunkGroup[], maxPiece: number, window: number): number =>
  layout.reduce((n, g) => n + g.count * countSplit(0, g.used, maxPiece, window), 0);

/** Which contiguity a device needs for a buffer: none, one IOVA range, or physically contiguous pages. */
export type ContiguityNeed = 'none' | 'iova' | 'physical';

/**
 * Judges contiguity in the device's own address space: behind an IOMMU, one DMA range is one IOVA
 * range; without one, the device needs physically contiguous pages when it needs one range, or when
 * even the largest of `chunkSizes` (default: the system heap's), scattered, would give it more
 * segments than it accepts.
 */
export const contiguityNeed = (
  c: AttacherConstraints,
  size: number,
  chunkSizes: readonly number[] = SYSTEM_HEAP_CHUNK_SIZES,
): ContiguityNeed => {
  if (c.behindIommu) return c.needsContiguousDma ? 'iova' : 'none';
  if (c.needsContiguousDma) return 'physical';
  const layout = idealLayout(
    alignUp(size, PAGE_SIZE),
    [...chunkSizes].sort((a, b) => b - a),
  );
  return layoutSegments(layout, entrySize(c), boundaryWindow(c)) > segmentLimit(c) ? 'physical' : 'none';
};
