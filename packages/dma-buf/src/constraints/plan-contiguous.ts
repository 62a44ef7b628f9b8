import { PAGE_SIZE } from '@sharedbuf/platform';
import type { ImposedConstraint } from './conflict-certificate.js';
import type { HeapCapabilities } from './heap-capabilities.js';
import {
  capacityFailure,
  failed,
  type HeapFailure,
  type HeapOutcome,
  heapLimit,
  limitHolders,
  spanFailure,
} from './heap-outcome.js';
import {
  contiguityForcers,
  countedViews,
  imposedLimits,
  imposedOf,
  type PlanContext,
} from './plan-context.js';
import { worstCaseSplit } from './segment-split.js';
import { formatBytes, formatCount, formatLimit, formatNames, pow2Ceil } from './units.js';

/**
 * The alignment a contiguous block needs. Past the attachers' own alignment, a counted attacher
 * whose segment limit an unlucky placement could break (a boundary window straddled) gets the block
 * aligned to `min(roundup_pow_of_two(size), window)`, which makes its split the best possible.
 */
const contiguousAlignment = (ctx: PlanContext, limit: number): { align: number; raisedBy: ImposedConstraint[] } => {
  const base = ctx.alignment.value;
  const raisedBy: ImposedConstraint[] = [];
  let align = base;
  for (const v of countedViews(ctx)) {
    if (worstCaseSplit(ctx.size, base, v.piece, v.window, limit) <= v.limit) continue;
    const need = Math.min(pow2Ceil(ctx.size), v.window);
    raisedBy.push({ attacher: v.c.attacher, value: need });
    align = Math.max(align, need);
  }
  return { align, raisedBy };
};

const blockFailure = (
  heap: HeapCapabilities,
  ctx: PlanContext,
  limit: number,
  align: number,
  raisedBy: readonly ImposedConstraint[],
): HeapFailure => {
  const size = ctx.size;
  const run = heap.largestContiguousFree(limit, align);
  const largest = `the largest free ${formatBytes(align)}-aligned block in heap '${heap.name}' at or below ${formatLimit(limit)} is ${formatBytes(run)}`;
  const common = { heap: heap.name, structural: false, required: size, available: run } as const;
  if (limit < heap.maxAddress && heap.largestContiguousFree(heap.maxAddress, align) >= size) {
    return {
      ...common,
      field: 'dmaLimit',
      imposedBy: imposedOf(ctx.placementLimit),
      combined: ctx.placementLimit.value,
      message: `${largest}, too small for the ${formatBytes(size)} buffer; a large enough block is free higher up, but ${limitHolders(ctx)}`,
    };
  }
  if (align > PAGE_SIZE && heap.largestContiguousFree(limit, PAGE_SIZE) >= size) {
    return {
      ...common,
      field: 'alignment',
      imposedBy: [...imposedOf(ctx.alignment), ...raisedBy],
      combined: align,
      message: `${largest}, too small for the ${formatBytes(size)} buffer; unaligned blocks that large exist, but the alignment is required by ${formatNames([...ctx.alignment.imposedBy, ...raisedBy.map((r) => r.attacher)])}`,
    };
  }
  const forcers = contiguityForcers(ctx);
  if (forcers.length > 0) {
    const names = forcers.map((v) => `${v.c.attacher} (no IOMMU, at most ${formatCount(v.limit)} segments)`);
    return {
      ...common,
      field: 'contiguity',
      imposedBy: imposedLimits(forcers),
      combined: true,
      message: `the ${formatBytes(size)} buffer must be physically contiguous for ${formatNames(names)}, but ${largest}`,
    };
  }
  return {
    ...common,
    field: 'size',
    imposedBy: [],
    combined: size,
    message: `${largest}, too small for the ${formatBytes(size)} buffer`,
  };
};

/** Plans one physically contiguous block in a CMA or carveout heap, or says why it cannot be had. */
export const evaluateContiguous = (heap: HeapCapabilities, ctx: PlanContext): HeapOutcome => {
  const span = spanFailure(heap, ctx);
  if (span !== undefined) return failed(span);
  const limit = heapLimit(heap, ctx);
  const { align, raisedBy } = contiguousAlignment(ctx, limit);
  if (heap.largestContiguousFree(limit, align) >= ctx.size) {
    const layout = [{ size: ctx.size, count: 1, used: ctx.size }];
    return { ok: true, value: { heap, layout, limit, alignment: align, raisedBy, chunkFloor: 0 } };
  }
  return failed(capacityFailure(heap, ctx, limit) ?? blockFailure(heap, ctx, limit, align, raisedBy));
};
