import { alignUp, PAGE_SIZE } from '@sharedbuf/platform';
import { type HeapCapabilities, type HeapKind, SYSTEM_HEAP_CHUNK_SIZES } from './heap-capabilities.js';

/** A free physical range `[base, base + size)`. */
export interface FreeRange {
  readonly base: number;
  readonly size: number;
}

/** A heap described by its free memory, for planning before any platform exists. */
export interface HeapDescription {
  readonly name: string;
  readonly kind: HeapKind;
  /** Free physical ranges; they must not overlap. */
  readonly free: readonly FreeRange[];
  /** The heap's whole span; defaults to the span of `free` (required when `free` is empty). */
  readonly region?: FreeRange;
  /** Chunk sizes, largest first; default: the system heap's for `system`, none otherwise. */
  readonly chunkSizes?: readonly number[];
  readonly protected?: boolean;
}

const spanOf = (d: HeapDescription, ranges: readonly FreeRange[]): FreeRange => {
  if (d.region !== undefined) return d.region;
  const first = ranges[0];
  const last = ranges[ranges.length - 1];
  if (first === undefined || last === undefined) {
    throw new RangeError(`heap ${d.name}: give a region when no memory is free`);
  }
  return { base: first.base, size: last.base + last.size - first.base };
};

const checkRanges = (d: HeapDescription, ranges: readonly FreeRange[]): void => {
  let end = -1;
  for (const r of ranges) {
    if (
      !Number.isSafeInteger(r.base) ||
      !Number.isSafeInteger(r.size) ||
      r.base < 0 ||
      r.size <= 0 ||
      r.base <= end
    ) {
      throw new RangeError(`heap ${d.name}: free ranges must be positive and disjoint`);
    }
    end = r.base + r.size - 1;
  }
};

/**
 * A {@link HeapCapabilities} computed from a list of free ranges — what a pipeline author passes to
 * the planner to ask "what would this buffer look like" without building a platform. Queries are
 * O(ranges). Throws `RangeError` on overlapping or empty ranges (a set-up bug).
 */
export const describeHeap = (d: HeapDescription): HeapCapabilities => {
  const ranges = [...d.free].sort((a, b) => a.base - b.base);
  checkRanges(d, ranges);
  const span = spanOf(d, ranges);
  const clippedEnd = (r: FreeRange, max: number): number => Math.min(r.base + r.size - 1, max);
  return {
    name: d.name,
    kind: d.kind,
    physicallyContiguous: d.kind !== 'system',
    chunkSizes: d.chunkSizes ?? (d.kind === 'system' ? SYSTEM_HEAP_CHUNK_SIZES : []),
    minAddress: span.base,
    maxAddress: span.base + span.size - 1,
    protected: d.protected ?? false,
    largestContiguousFree: (max, align = PAGE_SIZE) =>
      ranges.reduce((best, r) => Math.max(best, clippedEnd(r, max) - alignUp(r.base, align) + 1), 0),
    freeBytes: (max) => ranges.reduce((n, r) => n + Math.max(0, clippedEnd(r, max) - r.base + 1), 0),
    freeChunks: (chunk, max) =>
      ranges.reduce(
        (n, r) => n + Math.max(0, Math.floor((clippedEnd(r, max) + 1) / chunk) - Math.ceil(r.base / chunk)),
        0,
      ),
  };
};
