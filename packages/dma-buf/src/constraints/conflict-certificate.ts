import { type Errno, fail, type KResult } from '@sharedbuf/platform';

/** A constraint field a conflict can be about. */
export type ConstraintField =
  | 'size'
  | 'dmaLimit'
  | 'maxSegmentSize'
  | 'maxSegmentCount'
  | 'segmentBoundary'
  | 'alignment'
  | 'contiguity'
  | 'permittedHeaps'
  | 'protected'
  | 'bounce';

/** A field's value as plain JSON. */
export type ConstraintValue = number | boolean | string | readonly string[] | null;

/** One attacher's contribution to a conflict. */
export interface ImposedConstraint {
  readonly attacher: string;
  readonly value: ConstraintValue;
}

/** What planning found in one heap, or why it skipped it. */
export interface HeapAttempt {
  readonly heap: string;
  readonly field: ConstraintField;
  readonly reason: string;
}

/**
 * Why no backing satisfies the attachers together: the field that conflicts, which attachers
 * imposed what, the combined value, what was needed against what was available (e.g. the largest
 * contiguous block below the limit), and one sentence a pipeline author can act on. It travels as
 * `detail.certificate` of the `KernelError` planning returns.
 */
export interface ConflictCertificate {
  readonly field: ConstraintField;
  /** The buffer size planned for (page-aligned). */
  readonly size: number;
  readonly imposedBy: readonly ImposedConstraint[];
  readonly combined: ConstraintValue;
  /** What the constraints need, in the unit of `available` (bytes, segments, chunks). */
  readonly required?: number;
  readonly available?: ConstraintValue;
  /** The heap `available` refers to. */
  readonly heap?: string;
  readonly heapsTried: readonly HeapAttempt[];
  readonly message: string;
}

/** A certificate as a failed result: ENOMEM for capacity, EINVAL for constraints that contradict outright. */
export const conflictError = <T>(
  code: Extract<Errno, 'ENOMEM' | 'EINVAL'>,
  cert: ConflictCertificate,
): KResult<T> => fail<T>(code, cert.message, { certificate: cert });
