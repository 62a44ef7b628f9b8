import { alignUp, type KResult, ok, PAGE_SIZE } from '@sharedbuf/platform';
import { type AttacherConstraints, entrySize, physicalLimit } from './attacher-constraints.js';
import type { BackingPlan, PlannedAttachment } from './backing-plan.js';
import type { CombinedConstraints } from './combined-constraints.js';
import { type ConflictCertificate, conflictError, type HeapAttempt } from './conflict-certificate.js';
import { byPreference, type HeapCapabilities, SYSTEM_HEAP_CHUNK_SIZES } from './heap-capabilities.js';
import type { HeapFailure, HeapSuccess } from './heap-outcome.js';
import { outrightConflict } from './outright-conflicts.js';
import { type AttacherView, buildContext, type PlanContext } from './plan-context.js';
import { evaluateContiguous } from './plan-contiguous.js';
import { planReasons } from './plan-reasons.js';
import { evaluateScatter } from './plan-scatter.js';
import { countSplit, splitIsPlacementFree, worstCaseSplit } from './segment-split.js';
import { formatBytes, formatLimit, formatNames, NO_LIMIT } from './units.js';

/** Planning options. */
export interface PlanOptions {
  /**
   * The swiotlb pool attachers may be bounced through when the backing cannot lie below their
   * limit: its size and the highest address it occupies. Without it, nobody is bounced.
   */
  readonly bouncePool?: { readonly bytes: number; readonly maxAddress: number };
}

type Attempt =
  | { readonly ok: true; readonly plan: BackingPlan }
  | { readonly ok: false; readonly code: 'ENOMEM' | 'EINVAL'; readonly certificate: ConflictCertificate };

const refuse = (code: 'ENOMEM' | 'EINVAL', certificate: ConflictCertificate): Attempt => ({
  ok: false,
  code,
  certificate,
});

/** Splits the heaps into those the combination allows and the reasons the others are skipped. */
const filterHeaps = (combined: CombinedConstraints, heaps: readonly HeapCapabilities[]) => {
  const permitted = combined.permittedHeaps.value;
  const requires = combined.requiresProtected.value;
  const candidates: HeapCapabilities[] = [];
  const skipped: HeapAttempt[] = [];
  for (const h of byPreference(heaps)) {
    if (permitted !== null && !permitted.includes(h.name)) {
      skipped.push({
        heap: h.name,
        field: 'permittedHeaps',
        reason: `not among the heaps ${formatNames(combined.permittedHeaps.imposedBy)} permit`,
      });
    } else if (requires !== h.protected) {
      const reason = requires
        ? `${formatNames(combined.requiresProtected.imposedBy)} require protected memory and '${h.name}' has none`
        : `'${h.name}' holds protected memory, which no attacher asked for`;
      skipped.push({ heap: h.name, field: 'protected', reason });
    } else candidates.push(h);
  }
  return { candidates, skipped };
};

const noHeapLeft = (size: number, combined: CombinedConstraints, skipped: readonly HeapAttempt[]): Attempt => {
  const byList = skipped.length === 0 || skipped.every((a) => a.field === 'permittedHeaps');
  const field = byList ? 'permittedHeaps' : 'protected';
  const binding = byList ? combined.permittedHeaps : combined.requiresProtected;
  const imposedBy = byList
    ? combined.attachers
        .filter((c) => c.permittedHeaps !== undefined)
        .map((c) => ({ attacher: c.attacher, value: c.permittedHeaps ?? [] }))
    : binding.imposedBy.map((attacher) => ({ attacher, value: true }));
  const detail = skipped.length === 0 ? 'no heaps were offered' : skipped.map((a) => `${a.heap}: ${a.reason}`).join('; ');
  return refuse('EINVAL', {
    field,
    size,
    imposedBy,
    combined: binding.value,
    available: skipped.map((a) => a.heap),
    heapsTried: skipped,
    message: `no heap can hold the buffer: ${detail}`,
  });
};

/** Segments of the backing for one entry size and window, at most, and whether the count is exact. */
const backingSplit = (s: HeapSuccess, piece: number, window: number): { segments: number; exact: boolean } => {
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
    return { attacher: who, path: 'iommu', segments: countSplit(0, ctx.size, v.piece, v.window), exact: true };
  }
  const bounced = v.path === 'bounce' && physicalLimit(v.c) < s.limit;
  const piece = bounced ? v.piece : entrySize(v.c);
  return { attacher: who, path: bounced ? 'bounce' : 'direct', ...backingSplit(s, piece, v.window) };
};

const buildPlan = (
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

const toCertificate = (size: number, f: HeapFailure, heapsTried: readonly HeapAttempt[]): ConflictCertificate => ({
  field: f.field,
  size,
  imposedBy: f.imposedBy,
  combined: f.combined,
  ...(f.required === undefined ? {} : { required: f.required }),
  ...(f.available === undefined ? {} : { available: f.available }),
  heap: f.heap,
  heapsTried,
  message: `no heap can hold the ${formatBytes(size)} buffer: ${f.message}`,
});

/**
 * Tries the heaps in preference order; the first that can hold the buffer wins. Otherwise the
 * certificate is the first capacity failure (a heap of the right kind, short of memory), or failing
 * that the first structural one.
 */
const planWith = (
  size: number,
  combined: CombinedConstraints,
  heaps: readonly HeapCapabilities[],
  bounced: ReadonlySet<AttacherConstraints>,
): Attempt => {
  const { candidates, skipped } = filterHeaps(combined, heaps);
  if (candidates.length === 0) return noHeapLeft(size, combined, skipped);
  const scatter = candidates.find((h) => !h.physicallyContiguous)?.chunkSizes ?? SYSTEM_HEAP_CHUNK_SIZES;
  const ctx = buildContext(size, combined, bounced, [...scatter].sort((a, b) => b - a));
  const failures: HeapFailure[] = [];
  for (const heap of candidates) {
    const outcome = heap.physicallyContiguous ? evaluateContiguous(heap, ctx) : evaluateScatter(heap, ctx);
    const passedOver = [...skipped, ...failures.map((f) => ({ heap: f.heap, field: f.field, reason: f.message }))];
    if (outcome.ok) return { ok: true, plan: buildPlan(ctx, combined, outcome.value, passedOver) };
    failures.push(outcome.failure);
  }
  const chosen = (failures.find((f) => !f.structural) ?? failures[0]) as HeapFailure;
  const tried = [...skipped, ...failures.map((f) => ({ heap: f.heap, field: f.field, reason: f.message }))];
  return refuse(chosen.structural ? 'EINVAL' : 'ENOMEM', toCertificate(size, chosen, tried));
};

/**
 * When the limit of devices that accept bouncing is what fails, plans again without their limit;
 * they then get swiotlb copies. Devices that need one range or count segments are never bounced
 * (a bounced list is cut into slots), nor are those that cannot reach the pool.
 */
const planWithBounce = (
  size: number,
  combined: CombinedConstraints,
  heaps: readonly HeapCapabilities[],
  strict: ConflictCertificate,
  pool: NonNullable<PlanOptions['bouncePool']>,
): Attempt | undefined => {
  if (strict.field !== 'dmaLimit') return undefined;
  const bounceable = combined.attachers.filter(
    (c) =>
      !c.behindIommu &&
      c.acceptsBounce &&
      !c.needsContiguousDma &&
      c.maxSegmentCount === Number.POSITIVE_INFINITY &&
      physicalLimit(c) >= pool.maxAddress,
  );
  if (bounceable.length === 0) return undefined;
  const relaxed = planWith(size, combined, heaps, new Set(bounceable));
  if (!relaxed.ok || size <= pool.bytes) return relaxed.ok ? relaxed : undefined;
  const bounced = combined.attachers.filter((c) => relaxed.plan.bounced.includes(c.attacher));
  return refuse('ENOMEM', {
    field: 'bounce',
    size,
    imposedBy: bounced.map((c) => ({ attacher: c.attacher, value: physicalLimit(c) })),
    combined: combined.acceptsBounce.value,
    required: size,
    available: pool.bytes,
    heapsTried: strict.heapsTried,
    message: `the ${formatBytes(size)} buffer cannot lie below the limit of ${formatNames(bounced.map((c) => `${c.attacher} (${formatLimit(physicalLimit(c))})`))}, and bouncing it needs more than the ${formatBytes(pool.bytes)} swiotlb pool; use smaller buffers or attach these devices through an IOMMU`,
  });
};

const sizeError = (size: number): KResult<BackingPlan> =>
  conflictError('EINVAL', {
    field: 'size',
    size,
    imposedBy: [],
    combined: size,
    heapsTried: [],
    message: `buffer size ${size} is not a positive whole number of bytes`,
  });

/**
 * Chooses the backing for a buffer of `size` bytes shared by the combined attachers — heap, chunk
 * sizes, placement below the effective limit, alignment — without allocating, and says why. Heaps
 * are tried least constrained first (system, then CMA, then carveouts); a scattering heap uses the
 * smallest chunks that keep every attacher within its segment limit.
 *
 * Errors carry a {@link ConflictCertificate} in `detail.certificate`: EINVAL when the constraints
 * contradict each other or the buffer size outright, or no offered heap is of a kind that could
 * work; ENOMEM when a suitable heap lacks the memory (e.g. no contiguous block that large below
 * the limit). Bus offsets (`dmaRangeOffset`) are assumed to be multiples of every boundary window
 * and alignment involved, as real dma-ranges windows are, so physical and bus alignment agree.
 */
export const planBacking = (
  size: number,
  combined: CombinedConstraints,
  heaps: readonly HeapCapabilities[],
  options: PlanOptions = {},
): KResult<BackingPlan> => {
  if (!Number.isSafeInteger(size) || size <= 0) return sizeError(size);
  const pageSize = alignUp(size, PAGE_SIZE);
  const contradiction = outrightConflict(pageSize, combined);
  if (contradiction !== undefined) return conflictError('EINVAL', contradiction);
  const strict = planWith(pageSize, combined, heaps, new Set());
  if (strict.ok) return ok(strict.plan);
  const relaxed =
    options.bouncePool === undefined
      ? undefined
      : planWithBounce(pageSize, combined, heaps, strict.certificate, options.bouncePool);
  const result = relaxed ?? strict;
  return result.ok ? ok(result.plan) : conflictError(result.code, result.certificate);
};
