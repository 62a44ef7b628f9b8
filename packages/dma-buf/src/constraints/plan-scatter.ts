import { availableLayout, idealLayout, layoutSegments } from './chunk-layout.js';
import type { HeapCapabilities } from './heap-capabilities.js';
import {
  capacityFailure,
  failed,
  type HeapFailure,
  type HeapOutcome,
  heapLimit,
  spanFailure,
} from './heap-outcome.js';
import {
  type AttacherView,
  countedViews,
  imposedLimits,
  imposedOf,
  type PlanContext,
} from './plan-context.js';
import { formatBytes, formatCount, formatNames, verb } from './units.js';

/** Segments a device gets, at most, from a backing of `chunk`-sized chunks: all chunks that size. */
const worstSegments = (v: AttacherView, chunk: number, size: number): number =>
  layoutSegments(idealLayout(size, [chunk]), v.piece, v.window);

const overLimit = (views: readonly AttacherView[], chunk: number, size: number): AttacherView[] =>
  views.filter((v) => worstSegments(v, chunk, size) > v.limit);

const describeOver = (views: readonly AttacherView[], chunk: number, size: number): string =>
  formatNames(
    views.map(
      (v) =>
        `${v.c.attacher} (no IOMMU) up to ${worstSegments(v, chunk, size)} segments, where it accepts ${formatCount(v.limit)}`,
    ),
  );

const alignmentTooLarge = (heap: HeapCapabilities, ctx: PlanContext): HeapFailure => {
  const largest = heap.chunkSizes.reduce((m, c) => Math.max(m, c), 0);
  return {
    heap: heap.name,
    field: 'alignment',
    structural: true,
    imposedBy: imposedOf(ctx.alignment),
    combined: ctx.alignment.value,
    available: largest,
    message: `heap '${heap.name}' scatters chunks of at most ${formatBytes(largest)}, so it cannot align the buffer to ${formatBytes(ctx.alignment.value)} as ${formatNames(ctx.alignment.imposedBy)} ${verb(ctx.alignment.imposedBy, 'requires', 'require')}`,
  };
};

const tooManySegments = (
  heap: HeapCapabilities,
  ctx: PlanContext,
  over: readonly AttacherView[],
  sizes: readonly number[],
): HeapFailure => {
  const largest = sizes[0] as number;
  return {
    heap: heap.name,
    field: 'contiguity',
    structural: true,
    imposedBy: imposedLimits(over),
    combined: true,
    message: `even ${formatBytes(largest)} chunks from heap '${heap.name}' would give ${describeOver(over, largest, ctx.size)}: that needs physically contiguous memory`,
  };
};

/**
 * Out of suitable chunks: either counted attachers forced a chunk size the heap has too few of, or
 * the alignment did, or memory simply ran short.
 */
const chunkShortage = (
  heap: HeapCapabilities,
  ctx: PlanContext,
  limit: number,
  floor: number,
  blame: readonly AttacherView[],
): HeapFailure => {
  const capacity = capacityFailure(heap, ctx, limit);
  if (capacity !== undefined) return capacity;
  const required = Math.ceil(ctx.size / floor);
  const available = heap.freeChunks(floor, limit);
  const short = `heap '${heap.name}' has ${available} free ${formatBytes(floor)} blocks at or below the limit, ${required} are needed`;
  const common = { heap: heap.name, structural: false, combined: floor, required, available } as const;
  if (blame.length > 0) {
    return {
      ...common,
      field: 'maxSegmentCount',
      imposedBy: imposedLimits(blame),
      message: `smaller chunks would give too many segments to ${formatNames(blame.map((v) => v.c.attacher))}, and ${short}`,
    };
  }
  const smallest = heap.chunkSizes.reduce((m, c) => Math.min(m, c), floor);
  if (floor > smallest) {
    return {
      ...common,
      field: 'alignment',
      imposedBy: imposedOf(ctx.alignment),
      message: `${formatNames(ctx.alignment.imposedBy)} ${verb(ctx.alignment.imposedBy, 'needs', 'need')} ${formatBytes(ctx.alignment.value)} alignment, and ${short}`,
    };
  }
  return { ...common, field: 'size', imposedBy: [], message: short };
};

const floorReason = (over: readonly AttacherView[], smaller: number, floor: number, size: number): string => {
  if (over.length === 0) return '';
  return `chunks of at least ${formatBytes(floor)}, because ${formatBytes(smaller)} chunks could give ${describeOver(over, smaller, size)}`;
};

/**
 * Plans a scattered backing in a system-like heap. The chunk floor is the smallest chunk size (at
 * least the alignment) for which even a backing made only of floor-sized chunks — the most
 * segments any mix of chunks at or above the floor can give — keeps every counted attacher within
 * its segment limit; the layout then takes the heap's free chunks at or above the floor, largest
 * first, below the limit. So larger chunks are demanded only when they help a segment count.
 */
export const evaluateScatter = (heap: HeapCapabilities, ctx: PlanContext): HeapOutcome => {
  const span = spanFailure(heap, ctx);
  if (span !== undefined) return failed(span);
  const limit = heapLimit(heap, ctx);
  const sizes = [...heap.chunkSizes].sort((a, b) => b - a);
  const floors = sizes.filter((c) => c >= ctx.alignment.value).reverse();
  if (floors.length === 0) return failed(alignmentTooLarge(heap, ctx));
  const counted = countedViews(ctx);
  let blame: AttacherView[] = [];
  let smaller = 0;
  for (const floor of floors) {
    const over = overLimit(counted, floor, ctx.size);
    if (over.length > 0) {
      blame = over;
      smaller = floor;
      continue;
    }
    const layout = availableLayout(
      ctx.size,
      sizes.filter((c) => c >= floor),
      heap,
      limit,
    );
    if (layout === undefined) return failed(chunkShortage(heap, ctx, limit, floor, blame));
    const alignment = layout[0]?.size ?? floor;
    const note = floorReason(blame, smaller, floor, ctx.size);
    return {
      ok: true,
      value: { heap, layout, limit, alignment, raisedBy: imposedLimits(blame), chunkFloor: floor, note },
    };
  }
  return failed(tooManySegments(heap, ctx, blame, sizes));
};
