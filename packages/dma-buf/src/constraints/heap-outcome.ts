import { hex } from '@sharedbuf/platform';
import type { ChunkGroup } from './chunk-layout.js';
import type { ConstraintField, ConstraintValue, ImposedConstraint } from './conflict-certificate.js';
import type { HeapCapabilities } from './heap-capabilities.js';
import { imposedOf, type PlanContext } from './plan-context.js';
import { formatBytes, formatLimit, formatNames } from './units.js';

/** Why one heap cannot hold the buffer. `structural`: no amount of freed memory would help in this heap. */
export interface HeapFailure {
  readonly heap: string;
  readonly field: ConstraintField;
  readonly structural: boolean;
  readonly imposedBy: readonly ImposedConstraint[];
  readonly combined: ConstraintValue;
  readonly required?: number;
  readonly available?: ConstraintValue;
  readonly message: string;
}

/** A backing one heap can give: its chunks, where it must lie and how it is aligned, and why. */
export interface HeapSuccess {
  readonly heap: HeapCapabilities;
  readonly layout: readonly ChunkGroup[];
  /** Highest physical address the backing may use. */
  readonly limit: number;
  /** Alignment of the backing's first byte. */
  readonly alignment: number;
  /** Attachers whose segment limits raised the alignment (contiguous) or the chunk size (scattered). */
  readonly raisedBy: readonly ImposedConstraint[];
  /** Smallest chunk size used (scattered heaps), 0 for contiguous ones. */
  readonly chunkFloor: number;
  /** Why the chunk floor is what it is, when an attacher raised it; empty otherwise. */
  readonly note: string;
}

/** A heap evaluation's result. */
export type HeapOutcome =
  | { readonly ok: true; readonly value: HeapSuccess }
  | { readonly ok: false; readonly failure: HeapFailure };

/** Wraps a failure. */
export const failed = (failure: HeapFailure): HeapOutcome => ({ ok: false, failure });

/** The highest address a backing in `heap` may use: the heap's top or the attachers' limit. */
export const heapLimit = (heap: HeapCapabilities, ctx: PlanContext): number =>
  Math.min(ctx.placementLimit.value, heap.maxAddress);

/** "codec0 (no IOMMU) cannot address above 0x…": the sentence naming the limit's holders. */
export const limitHolders = (ctx: PlanContext): string =>
  `${formatNames(ctx.placementLimit.imposedBy)} (no IOMMU) cannot reach above ${formatLimit(ctx.placementLimit.value)}`;

/**
 * The heap cannot hold the buffer wherever its memory is free: it is smaller than the buffer, or
 * too little of it lies below the attachers' limit.
 */
export const spanFailure = (heap: HeapCapabilities, ctx: PlanContext): HeapFailure | undefined => {
  const size = ctx.size;
  const span = heap.maxAddress - heap.minAddress + 1;
  if (span < size) {
    return {
      heap: heap.name,
      field: 'size',
      structural: true,
      imposedBy: [],
      combined: size,
      required: size,
      available: span,
      message: `heap '${heap.name}' spans only ${formatBytes(span)}, less than the ${formatBytes(size)} buffer`,
    };
  }
  const below = heapLimit(heap, ctx) - heap.minAddress + 1;
  if (below >= size) return undefined;
  return {
    heap: heap.name,
    field: 'dmaLimit',
    structural: true,
    imposedBy: imposedOf(ctx.placementLimit),
    combined: ctx.placementLimit.value,
    required: size,
    available: Math.max(0, below),
    message: `heap '${heap.name}' starts at ${hex(heap.minAddress)}, too high for a ${formatBytes(size)} buffer: ${limitHolders(ctx)}`,
  };
};

/**
 * Not enough free memory below the limit at all: blame the limit when the memory exists above it,
 * else the size.
 */
export const capacityFailure = (
  heap: HeapCapabilities,
  ctx: PlanContext,
  limit: number,
): HeapFailure | undefined => {
  const size = ctx.size;
  const free = heap.freeBytes(limit);
  if (free >= size) return undefined;
  const where = `in heap '${heap.name}' at or below ${formatLimit(limit)}`;
  if (limit < heap.maxAddress && heap.freeBytes(heap.maxAddress) >= size) {
    return {
      heap: heap.name,
      field: 'dmaLimit',
      structural: false,
      imposedBy: imposedOf(ctx.placementLimit),
      combined: ctx.placementLimit.value,
      required: size,
      available: free,
      message: `only ${formatBytes(free)} is free ${where}, less than the ${formatBytes(size)} buffer, and ${limitHolders(ctx)}`,
    };
  }
  return {
    heap: heap.name,
    field: 'size',
    structural: false,
    imposedBy: [],
    combined: size,
    required: size,
    available: free,
    message: `only ${formatBytes(free)} is free ${where}, less than the ${formatBytes(size)} buffer`,
  };
};
