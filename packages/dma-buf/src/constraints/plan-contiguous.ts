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
  type AttacherView,
  contiguityForcers,
  countedViews,
  imposedLimits,
  imposedOf,
  type PlanContext,
} from './plan-context.js';
import { worstCaseSplit } from './segment-split.js';
import { formatBytes, formatCount, formatLimit, formatNames, verb } from './units.js';

/**
 * The smallest alignment (a power of two from a page up) at which every placement keeps a counted
 * attacher within its segment limit. It exists: at `min(roundup_pow_of_two(size), window)` the split
 * is the best possible, which the outright checks already found acceptable.
 */
const windowAlignment = (ctx: PlanContext, v: AttacherView, limit: number): number => {
  let align = PAGE_SIZE;
  while (align < ctx.size && worstCaseSplit(ctx.size, align, v.piece, v.window, limit) > v.limit) align *= 2;
  return align;
};

/**
 * The alignment a contiguous block needs: each attacher without an IOMMU requires its own
 * alignment and, when it counts segments, the alignment that stops an unlucky placement from
 * straddling one boundary window too many. The block takes the largest requirement; `imposedBy`
 * names every attacher requiring exactly that much, and `raisedBy` those whose segment limit did.
 */
const contiguousAlignment = (ctx: PlanContext, limit: number) => {
  const requirements = new Map<AttacherView, number>();
  const raisedBy: ImposedConstraint[] = [];
  for (const v of ctx.views) if (v.path !== 'iommu') requirements.set(v, Math.max(PAGE_SIZE, v.c.alignment));
  for (const v of countedViews(ctx)) {
    const need = windowAlignment(ctx, v, limit);
    if (need > PAGE_SIZE) raisedBy.push({ attacher: v.c.attacher, value: need });
    requirements.set(v, Math.max(requirements.get(v) ?? PAGE_SIZE, need));
  }
  const align = Math.max(PAGE_SIZE, ...requirements.values());
  const imposedBy = [...requirements]
    .filter(([, need]) => need === align && align > PAGE_SIZE)
    .map(([v, need]) => ({ attacher: v.c.attacher, value: need }));
  return { align, imposedBy, raisedBy };
};

const blockFailure = (
  heap: HeapCapabilities,
  ctx: PlanContext,
  limit: number,
  align: number,
  alignedBy: readonly ImposedConstraint[],
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
      imposedBy: alignedBy,
      combined: align,
      message: `${largest}, too small for the ${formatBytes(size)} buffer; less aligned blocks that large exist, but ${formatNames(alignedBy.map((r) => r.attacher))} ${verb(alignedBy, 'needs', 'need')} ${formatBytes(align)} alignment`,
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
  const { align, imposedBy, raisedBy } = contiguousAlignment(ctx, limit);
  if (heap.largestContiguousFree(limit, align) >= ctx.size) {
    const layout = [{ size: ctx.size, count: 1, used: ctx.size }];
    return { ok: true, value: { heap, layout, limit, alignment: align, raisedBy, chunkFloor: 0, note: '' } };
  }
  return failed(capacityFailure(heap, ctx, limit) ?? blockFailure(heap, ctx, limit, align, imposedBy));
};
