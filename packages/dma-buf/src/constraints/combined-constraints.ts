import {
  type AttacherConstraints,
  boundaryWindow,
  checkAttacherConstraints,
  physicalLimit,
  segmentLimit,
} from './attacher-constraints.js';
import { NO_LIMIT } from './units.js';

/** One combined field: its value and the attachers that impose it (empty when nobody restricts it). */
export interface Binding<T> {
  readonly value: T;
  readonly imposedBy: readonly string[];
}

/**
 * Every attachment's constraints folded into one, field by field — the RFC's
 * `dma_buf_get_constraints` result, widened. Each field records the attachers holding its binding
 * value, so a conflict can name them. The rules (see {@link combineConstraints}) are monotone, so the
 * result is independent of attach order up to the order of names in `imposedBy`.
 */
export interface CombinedConstraints {
  /** The inputs, in attach order. */
  readonly attachers: readonly AttacherConstraints[];
  /** Highest physical address every device without an IOMMU reaches: min of {@link physicalLimit}. */
  readonly physLimit: Binding<number>;
  /** min of `maxSegmentSize` over all attachers (the RFC's rule). */
  readonly maxSegmentSize: Binding<number>;
  /** min of {@link segmentLimit} over all attachers (the RFC's rule; one-range devices count as 1). */
  readonly maxSegmentCount: Binding<number>;
  /** The finest boundary: min of the masks, which for masks 2^k − 1 equals their AND (the RFC's `&=`). */
  readonly segmentBoundaryMask: Binding<number>;
  /** lcm of the alignments over all attachers; for powers of two, the max. */
  readonly alignment: Binding<number>;
  /** lcm of the alignments of the attachers without an IOMMU: what the physical placement must honour. */
  readonly physAlignment: Binding<number>;
  /** OR over attachers without an IOMMU that need one DMA range: they need physically contiguous pages. */
  readonly needsPhysContiguous: Binding<boolean>;
  /** OR over attachers behind an IOMMU that need one DMA range: one IOVA range, pages may scatter. */
  readonly needsIovaContiguous: Binding<boolean>;
  /** AND of coherency; `imposedBy` lists the non-coherent devices, for which CPU access needs maintenance. */
  readonly coherent: Binding<boolean>;
  /** AND of bounce acceptance; `imposedBy` lists the devices that refuse bounce buffers. */
  readonly acceptsBounce: Binding<boolean>;
  /** Intersection of the permitted-heap lists, first list's order; null when nobody restricts heaps. */
  readonly permittedHeaps: Binding<readonly string[] | null>;
  /** OR of `protected === true`. */
  readonly requiresProtected: Binding<boolean>;
  /** OR of `protected === false`. */
  readonly forbidsProtected: Binding<boolean>;
}

interface Slot<T> {
  value: T;
  imposedBy: string[];
}

const slot = <T>(value: T): Slot<T> => ({ value, imposedBy: [] });

/** Keeps the minimum; values at the neutral element restrict nothing and name nobody. */
const keepMin = (s: Slot<number>, v: number, who: string, neutral: number): void => {
  if (v >= neutral || v > s.value) return;
  if (v < s.value) {
    s.value = v;
    s.imposedBy = [who];
  } else s.imposedBy.push(who);
};

const keepMax = (s: Slot<number>, v: number, who: string, neutral: number): void => {
  if (v <= neutral || v < s.value) return;
  if (v > s.value) {
    s.value = v;
    s.imposedBy = [who];
  } else s.imposedBy.push(who);
};

/** OR when `binding` is true, AND when it is false: an attacher holding `binding` sets the field. */
const keepFlag = (s: Slot<boolean>, flag: boolean, binding: boolean, who: string): void => {
  if (flag !== binding) return;
  s.value = binding;
  s.imposedBy.push(who);
};

const intersectHeaps = (s: Slot<readonly string[] | null>, list: readonly string[], who: string): void => {
  const allowed = new Set(list);
  s.value = s.value === null ? [...allowed] : s.value.filter((h) => allowed.has(h));
  s.imposedBy.push(who);
};

/**
 * The running fold behind {@link combineConstraints} and `ConstraintSet`: O(1) work per attacher
 * (plus the length of its heap list), so combining n attachers is one linear pass.
 */
export class ConstraintAccumulator {
  readonly attachers: AttacherConstraints[] = [];
  private readonly physLimit = slot(NO_LIMIT);
  private readonly maxSegmentSize = slot(NO_LIMIT);
  private readonly maxSegmentCount = slot(Number.POSITIVE_INFINITY);
  private readonly segmentBoundaryMask = slot(NO_LIMIT);
  private readonly alignment = slot(1);
  private readonly physAlignment = slot(1);
  private readonly needsPhysContiguous = slot(false);
  private readonly needsIovaContiguous = slot(false);
  private readonly coherent = slot(true);
  private readonly acceptsBounce = slot(true);
  private readonly permittedHeaps = slot<readonly string[] | null>(null);
  private readonly requiresProtected = slot(false);
  private readonly forbidsProtected = slot(false);

  /** Folds one attacher in. Throws on malformed constraints (a set-up bug). */
  add(c: AttacherConstraints): void {
    checkAttacherConstraints(c);
    const who = c.attacher;
    this.attachers.push(c);
    keepMin(this.physLimit, physicalLimit(c), who, NO_LIMIT);
    keepMin(this.maxSegmentSize, c.maxSegmentSize, who, NO_LIMIT);
    keepMin(this.maxSegmentCount, segmentLimit(c), who, Number.POSITIVE_INFINITY);
    keepMin(this.segmentBoundaryMask, boundaryWindow(c) - 1, who, NO_LIMIT);
    keepMax(this.alignment, c.alignment, who, 1);
    if (!c.behindIommu) keepMax(this.physAlignment, c.alignment, who, 1);
    keepFlag(
      c.behindIommu ? this.needsIovaContiguous : this.needsPhysContiguous,
      c.needsContiguousDma,
      true,
      who,
    );
    keepFlag(this.coherent, c.coherent, false, who);
    keepFlag(this.acceptsBounce, c.acceptsBounce, false, who);
    if (c.permittedHeaps !== undefined) intersectHeaps(this.permittedHeaps, c.permittedHeaps, who);
    if (c.protected !== undefined) {
      keepFlag(c.protected ? this.requiresProtected : this.forbidsProtected, true, true, who);
    }
  }

  /** An immutable copy of the combination so far. */
  snapshot(): CombinedConstraints {
    const copy = <T>(s: Slot<T>): Binding<T> => ({ value: s.value, imposedBy: [...s.imposedBy] });
    return {
      attachers: [...this.attachers],
      physLimit: copy(this.physLimit),
      maxSegmentSize: copy(this.maxSegmentSize),
      maxSegmentCount: copy(this.maxSegmentCount),
      segmentBoundaryMask: copy(this.segmentBoundaryMask),
      alignment: copy(this.alignment),
      physAlignment: copy(this.physAlignment),
      needsPhysContiguous: copy(this.needsPhysContiguous),
      needsIovaContiguous: copy(this.needsIovaContiguous),
      coherent: copy(this.coherent),
      acceptsBounce: copy(this.acceptsBounce),
      permittedHeaps: copy(this.permittedHeaps),
      requiresProtected: copy(this.requiresProtected),
      forbidsProtected: copy(this.forbidsProtected),
    };
  }
}

/**
 * Combines attachers' constraints into one, in a single pass (the RFC's `calc_constraints` applied to
 * each attachment in turn). Field rules:
 * - `physLimit`, `maxSegmentSize`, `maxSegmentCount`: minimum (the strictest device binds);
 * - `segmentBoundaryMask`: the finer boundary, min of masks 2^k − 1 (= their AND);
 * - `alignment`, `physAlignment`: least common multiple (= max for powers of two);
 * - `needsPhysContiguous`, `needsIovaContiguous`, `requiresProtected`, `forbidsProtected`: OR;
 * - `coherent`, `acceptsBounce`: AND;
 * - `permittedHeaps`: intersection.
 * Devices behind an IOMMU add no physical limit or physical alignment: their IOVA side is the IOMMU's.
 * Throws on malformed constraints (a set-up bug).
 */
export const combineConstraints = (list: readonly AttacherConstraints[]): CombinedConstraints => {
  const acc = new ConstraintAccumulator();
  for (const c of list) acc.add(c);
  return acc.snapshot();
};

const mergeMin = (a: Binding<number>, b: Binding<number>): Binding<number> =>
  a.value < b.value
    ? a
    : b.value < a.value
      ? b
      : { value: a.value, imposedBy: [...a.imposedBy, ...b.imposedBy] };

const mergeMax = (a: Binding<number>, b: Binding<number>): Binding<number> =>
  a.value > b.value
    ? a
    : b.value > a.value
      ? b
      : { value: a.value, imposedBy: [...a.imposedBy, ...b.imposedBy] };

const mergeFlag = (a: Binding<boolean>, b: Binding<boolean>, binding: boolean): Binding<boolean> => ({
  value: a.value === binding || b.value === binding ? binding : !binding,
  imposedBy: [...a.imposedBy, ...b.imposedBy],
});

const mergeHeaps = (
  a: Binding<readonly string[] | null>,
  b: Binding<readonly string[] | null>,
): Binding<readonly string[] | null> => {
  const bv = b.value;
  const value = a.value === null ? bv : bv === null ? a.value : a.value.filter((h) => bv.includes(h));
  return { value, imposedBy: [...a.imposedBy, ...b.imposedBy] };
};

/**
 * Merges two combinations as if their attachers had been combined together, `a`'s first:
 * `mergeConstraints(combineConstraints(xs), combineConstraints(ys))` equals `combineConstraints([...xs, ...ys])`.
 */
export const mergeConstraints = (a: CombinedConstraints, b: CombinedConstraints): CombinedConstraints => ({
  attachers: [...a.attachers, ...b.attachers],
  physLimit: mergeMin(a.physLimit, b.physLimit),
  maxSegmentSize: mergeMin(a.maxSegmentSize, b.maxSegmentSize),
  maxSegmentCount: mergeMin(a.maxSegmentCount, b.maxSegmentCount),
  segmentBoundaryMask: mergeMin(a.segmentBoundaryMask, b.segmentBoundaryMask),
  alignment: mergeMax(a.alignment, b.alignment),
  physAlignment: mergeMax(a.physAlignment, b.physAlignment),
  needsPhysContiguous: mergeFlag(a.needsPhysContiguous, b.needsPhysContiguous, true),
  needsIovaContiguous: mergeFlag(a.needsIovaContiguous, b.needsIovaContiguous, true),
  coherent: mergeFlag(a.coherent, b.coherent, false),
  acceptsBounce: mergeFlag(a.acceptsBounce, b.acceptsBounce, false),
  permittedHeaps: mergeHeaps(a.permittedHeaps, b.permittedHeaps),
  requiresProtected: mergeFlag(a.requiresProtected, b.requiresProtected, true),
  forbidsProtected: mergeFlag(a.forbidsProtected, b.forbidsProtected, true),
});
