import type { AttacherView } from './plan-context.js';
import { type ChunkGroup, availableLayout, idealLayout, layoutSegments } from './chunk-layout.js';
import type { HeapCapabilities } from './heap-capabilities.js';
import {
  capacityFailure,
  failed,
  type HeapFailure,
  type HeapOutcome,
  heapLimit,
  spanFailure,
} from './heap-outcome.js';
import { countedViews, imposedLimits, imposedOf, type PlanContext } from './plan-context.js';
import { formatBytes, formatCount, formatNames } from './units.js';

const overLimit = (views: readonly AttacherView[], layout: readonly ChunkGroup[]): AttacherView[] =>
  views.filter((v) => layoutSegments(layout, v.piece, v.window) > v.limit);

const describeOver = (views: readonly AttacherView[], layout: readonly ChunkGroup[]): string =>
  formatNames(
    views.map(
      (v) =>
        `${v.c.attacher} (no IOMMU) would get ${layoutSegments(layout, v.piece, v.window)} segments but accepts ${formatCount(v.limit)}`,
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
    message: `heap '${heap.name}' scatters chunks of at most ${formatBytes(largest)}, so it cannot align the buffer to ${formatBytes(ctx.alignment.value)} as ${formatNames(ctx.alignment.imposedBy)} require`,
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
    message: `even ${formatBytes(largest)} chunks from heap '${heap.name}' are too scattered: ${describeOver(over, idealLayout(ctx.size, [largest]))}; that needs physically contiguous memory`,
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
      message: `${formatNames(ctx.alignment.imposedBy)} need ${formatBytes(ctx.alignment.value)} alignment, and ${short}`,
    };
  }
  return { ...common, field: 'size', imposedBy: [], message: short };
};

/**
 * Plans a scattered backing in a system-like heap: the smallest chunk floor (at least the
 * alignment) for which every counted attacher stays within its segment limit, using the chunks the
 * heap has free below the limit, largest first. Larger floors are tried only when they help a
 * segment count.
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
  for (const floor of floors) {
    const usable = sizes.filter((c) => c >= floor);
    const idealOver = overLimit(counted, idealLayout(ctx.size, usable));
    if (idealOver.length > 0) {
      blame = idealOver;
      continue;
    }
    const layout = availableLayout(ctx.size, usable, heap, limit);
    if (layout === undefined) return failed(chunkShortage(heap, ctx, limit, floor, blame));
    const over = overLimit(counted, layout);
    if (over.length > 0) {
      blame = over;
      continue;
    }
    const alignment = layout[0]?.size ?? floor;
    return {
      ok: true,
      value: { heap, layout, limit, alignment, raisedBy: imposedLimits(blame), chunkFloor: floor },
    };
  }
  return failed(tooManySegments(heap, ctx, blame, sizes));
};
