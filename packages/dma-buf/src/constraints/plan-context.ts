import { PAGE_SIZE } from '@sharedbuf/platform';
import {
  type AttacherConstraints,
  boundaryWindow,
  entrySize,
  physicalLimit,
  segmentLimit,
} from './attacher-constraints.js';
import { idealLayout, layoutSegments } from './chunk-layout.js';
import type { Binding, CombinedConstraints } from './combined-constraints.js';
import type { ImposedConstraint } from './conflict-certificate.js';
import { NO_LIMIT, SWIOTLB_MAX_SEGMENT } from './units.js';

/** How an attacher reaches the backing: dma-direct, an IOMMU, or (possibly) a swiotlb bounce copy. */
export type PathKind = 'direct' | 'iommu' | 'bounce';

/** One attacher as the planner sees it. */
export interface AttacherView {
  readonly c: AttacherConstraints;
  readonly path: PathKind;
  /** Segments accepted. */
  readonly limit: number;
  /** Longest scatterlist entry it takes (bounced entries are also capped by swiotlb). */
  readonly piece: number;
  readonly window: number;
}

/** Everything a heap evaluation needs, derived once per plan in O(n). */
export interface PlanContext {
  /** Page-aligned buffer size. */
  readonly size: number;
  readonly views: readonly AttacherView[];
  /** Highest physical address every direct attacher reaches (bounced ones excluded). */
  readonly placementLimit: Binding<number>;
  /** Alignment of the first byte, at least a page (attachers reached through an IOMMU excluded). */
  readonly alignment: Binding<number>;
  /** Chunk sizes of the preferred scattering heap, largest first: the yardstick for who forces contiguity. */
  readonly scatterChunks: readonly number[];
}

const viewOf = (c: AttacherConstraints, bounced: boolean): AttacherView => ({
  c,
  path: c.behindIommu ? 'iommu' : bounced ? 'bounce' : 'direct',
  limit: segmentLimit(c),
  piece: bounced ? Math.min(entrySize(c), SWIOTLB_MAX_SEGMENT) : entrySize(c),
  window: boundaryWindow(c),
});

const bindMin = (views: readonly AttacherView[], of: (v: AttacherView) => number): Binding<number> => {
  const value = views.reduce((m, v) => Math.min(m, of(v)), NO_LIMIT);
  return {
    value,
    imposedBy: value < NO_LIMIT ? views.filter((v) => of(v) === value).map((v) => v.c.attacher) : [],
  };
};

const bindAlignment = (views: readonly AttacherView[]): Binding<number> => {
  const value = views.reduce((m, v) => Math.max(m, v.c.alignment), PAGE_SIZE);
  return {
    value,
    imposedBy: value > PAGE_SIZE ? views.filter((v) => v.c.alignment === value).map((v) => v.c.attacher) : [],
  };
};

/** Builds the planning context; attachers in `bounced` may be served through swiotlb instead of directly. */
export const buildContext = (
  size: number,
  combined: CombinedConstraints,
  bounced: ReadonlySet<AttacherConstraints>,
  scatterChunks: readonly number[],
): PlanContext => {
  const views = combined.attachers.map((c) => viewOf(c, bounced.has(c)));
  const direct = views.filter((v) => v.path === 'direct');
  return {
    size,
    views,
    placementLimit: bindMin(direct, (v) => physicalLimit(v.c)),
    alignment: bindAlignment(views.filter((v) => v.path !== 'iommu')),
    scatterChunks,
  };
};

/** Direct attachers with a finite segment limit: the ones whose segment counts planning must hold. */
export const countedViews = (ctx: PlanContext): AttacherView[] =>
  ctx.views.filter((v) => v.path === 'direct' && v.limit !== Number.POSITIVE_INFINITY);

/** Direct attachers that scattered chunks — all of the preferred scattering heap's largest size, its best — give too many segments. */
export const contiguityForcers = (ctx: PlanContext): AttacherView[] => {
  const ideal = idealLayout(ctx.size, ctx.scatterChunks.slice(0, 1));
  return countedViews(ctx).filter((v) => layoutSegments(ideal, v.piece, v.window) > v.limit);
};

/** The attachers holding a binding, with the bound value, for a certificate. */
export const imposedOf = (b: Binding<number>): ImposedConstraint[] =>
  b.imposedBy.map((attacher) => ({ attacher, value: b.value }));

/** Views as certificate entries, valued by their segment limit. */
export const imposedLimits = (views: readonly AttacherView[]): ImposedConstraint[] =>
  views.map((v) => ({ attacher: v.c.attacher, value: v.limit }));
