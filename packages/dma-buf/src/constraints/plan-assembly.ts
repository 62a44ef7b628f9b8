import { entrySize, physicalLimit } from './attacher-constraints.js';
import type { BackingPlan, PlannedAttachment } from './backing-plan.js';
import type { CombinedConstraints } from './combined-constraints.js';
import type { HeapAttempt } from './conflict-certificate.js';
import type { HeapSuccess } from './heap-outcome.js';
import type { AttacherView, PlanContext } from './plan-context.js';
import { planReasons } from './plan-reasons.js';
import { countSplit, splitIsPlacementFree, worstCaseSplit } from './segment-split.js';
import { NO_LIMIT } from './units.js';

/** Segments of the backing for one entry size and window, at most, and whether the count is exact. */
const backingSplit = (
  s: HeapSuccess,
  piece: number,
  window: number,
): { segments: number; exact: boolean } => {
  let segments = 0;
  let exact = true;
  for (const g of s.layout) {
    const align = s.chunkFloor === 0 ? s.alignment : g.size;
    segments += g.count * worstCaseSplit(g.used, align, piece, window, s.limit);
    exact &&= splitIsPlacementFree(g.used, align, window, s.limit);
  }
  return { segments, exact };
};

const plannedAttachment = (v: AttacherView, ctx: PlanContext, s: HeapSuccess): PlannedAttachment => {
  const who = v.c.attacher;
  if (v.path === 'iommu') {
    return {
      attacher: who,
      path: 'iommu',
      segments: countSplit(0, ctx.size, v.piece, v.window),
      exact: true,
    };
  }
  const bounced = v.path === 'bounce' && physicalLimit(v.c) < s.limit;
  const piece = bounced ? v.piece : entrySize(v.c);
  return { attacher: who, path: bounced ? 'bounce' : 'direct', ...backingSplit(s, piece, v.window) };
};

/** Turns one heap's success into the plan: every attachment's path and segment count, the shared table, the reasons. */
export const buildPlan = (
  ctx: PlanContext,
  combined: CombinedConstraints,
  s: HeapSuccess,
  passedOver: readonly HeapAttempt[],
): BackingPlan => {
  const attachers = ctx.views.map((v) => plannedAttachment(v, ctx, s));
  const segmentSize = ctx.views.reduce(
    (m, v) => Math.min(m, v.path === 'bounce' ? v.piece : entrySize(v.c)),
    NO_LIMIT,
  );
  const window = combined.segmentBoundaryMask.value + 1;
  return {
    size: ctx.size,
    heap: s.heap.name,
    heapKind: s.heap.kind,
    physicallyContiguous: s.layout.length === 1 && s.layout[0]?.count === 1,
    chunks: s.layout,
    chunkFloor: s.chunkFloor,
    backingBytes: s.layout.reduce((n, g) => n + g.count * g.size, 0),
    maxAddress: s.limit,
    alignment: s.alignment,
    segmentSize,
    expectedSegmentCount: backingSplit(s, segmentSize, window).segments,
    attachers,
    bounced: attachers.filter((a) => a.path === 'bounce').map((a) => a.attacher),
    cpuNeedsCacheMaintenance: !combined.coherent.value,
    reasons: planReasons(ctx, combined, s, attachers, passedOver),
  };
};
