import { hex, PAGE_SIZE } from '@sharedbuf/platform';
import type { PlannedAttachment } from './backing-plan.js';
import { type ChunkGroup, idealLayout, layoutSegments } from './chunk-layout.js';
import type { CombinedConstraints } from './combined-constraints.js';
import type { HeapAttempt } from './conflict-certificate.js';
import { type HeapSuccess, limitHolders } from './heap-outcome.js';
import { contiguityForcers, type PlanContext } from './plan-context.js';
import { formatBytes, formatCount, formatNames, verb } from './units.js';

const layoutText = (layout: readonly ChunkGroup[]): string =>
  layout
    .map(
      (g) => `${g.count} × ${formatBytes(g.size)}${g.used < g.size ? ` (${formatBytes(g.used)} used)` : ''}`,
    )
    .join(' + ');

const scatterReason = (s: HeapSuccess): string => {
  const base = `heap '${s.heap.name}': scattered pages, ${layoutText(s.layout)}`;
  return s.note === ''
    ? `${base}; every attacher accepts the segments such pages give`
    : `${base}; ${s.note}`;
};

const contiguousReason = (ctx: PlanContext, s: HeapSuccess, passedOver: number): string => {
  const base = `heap '${s.heap.name}': one physically contiguous ${formatBytes(ctx.size)} block`;
  const forcers = contiguityForcers(ctx);
  if (forcers.length > 0) {
    const largest = ctx.scatterChunks[0] ?? PAGE_SIZE;
    const ideal = idealLayout(ctx.size, [largest]);
    const who = forcers.map(
      (v) =>
        `${v.c.attacher} (no IOMMU) accepts ${formatCount(v.limit)} segment(s) where ${formatBytes(largest)} chunks would give ${layoutSegments(ideal, v.piece, v.window)}`,
    );
    return `${base}, because ${formatNames(who)}`;
  }
  return passedOver > 0 ? `${base}, as the preferred heaps could not hold the buffer` : `${base}`;
};

const placementReason = (ctx: PlanContext, s: HeapSuccess): string => {
  if (ctx.placementLimit.imposedBy.length === 0) {
    return 'no placement limit: every attacher reaches the buffer through an IOMMU, a bounce buffer, or addresses all memory';
  }
  return s.limit < s.heap.maxAddress
    ? `placed at or below ${hex(s.limit)}: ${limitHolders(ctx)}`
    : `the heap lies wholly within reach: ${limitHolders(ctx)}`;
};

const alignmentReason = (ctx: PlanContext, s: HeapSuccess): string[] => {
  if (s.alignment <= PAGE_SIZE) return [];
  const why: string[] = [];
  if (ctx.alignment.imposedBy.length > 0) {
    why.push(
      `${formatNames(ctx.alignment.imposedBy)} ${verb(ctx.alignment.imposedBy, 'needs', 'need')} ${formatBytes(ctx.alignment.value)} alignment`,
    );
  }
  if (s.chunkFloor === 0 && s.raisedBy.length > 0) {
    why.push(
      `${formatNames(s.raisedBy.map((r) => r.attacher))} must not see a segment split at a boundary window`,
    );
  }
  if (s.chunkFloor > 0) why.push('chunks are naturally aligned');
  return [`first byte aligned to ${formatBytes(s.alignment)}: ${why.join('; ')}`];
};

const pathReasons = (planned: readonly PlannedAttachment[]): string[] => {
  const iommu = planned.filter((p) => p.path === 'iommu').map((p) => p.attacher);
  const bounce = planned.filter((p) => p.path === 'bounce').map((p) => p.attacher);
  const out: string[] = [];
  if (iommu.length > 0) {
    out.push(
      `${formatNames(iommu)} ${verb(iommu, 'reaches', 'reach')} the buffer through an IOMMU (one IOVA range each), so the physical pages may scatter`,
    );
  }
  if (bounce.length > 0) {
    out.push(
      `${formatNames(bounce)} may be handed swiotlb bounce copies: the backing can lie above their DMA limit and they accept bouncing; every hand-over between CPU and device then copies the buffer`,
    );
  }
  return out;
};

const coherencyReason = (combined: CombinedConstraints): string =>
  combined.coherent.value
    ? 'every attacher is cache-coherent: CPU access needs no cache maintenance'
    : `CPU access needs cache maintenance (dma_buf_begin_cpu_access / end_cpu_access) because ${formatNames(combined.coherent.imposedBy)} ${combined.coherent.imposedBy.length === 1 ? 'is' : 'are'} not cache-coherent`;

/** The plan's reasons, in the order a reader checks them: heap, heaps passed over, placement, alignment, paths, coherency. */
export const planReasons = (
  ctx: PlanContext,
  combined: CombinedConstraints,
  s: HeapSuccess,
  planned: readonly PlannedAttachment[],
  passedOver: readonly HeapAttempt[],
): string[] => [
  s.chunkFloor > 0 ? scatterReason(s) : contiguousReason(ctx, s, passedOver.length),
  ...passedOver.map((a) => `passed over: ${a.reason}`),
  placementReason(ctx, s),
  ...alignmentReason(ctx, s),
  ...pathReasons(planned),
  coherencyReason(combined),
];
