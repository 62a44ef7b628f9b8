import { alignUp, type KResult, ok, PAGE_SIZE } from '@sharedbuf/platform';
import type { BackingPlan } from './backing-plan.js';
import type { CombinedConstraints } from './combined-constraints.js';
import { conflictError } from './conflict-certificate.js';
import type { HeapCapabilities } from './heap-capabilities.js';
import { outrightConflict } from './outright-conflicts.js';
import { type BouncePool, planWithBounce } from './plan-bounce.js';
import { planWith } from './plan-heaps.js';

/** Planning options. */
export interface PlanOptions {
  /**
   * The swiotlb pool attachers may be bounced through when the backing cannot lie below their
   * limit. Without it, nobody is bounced.
   */
  readonly bouncePool?: BouncePool;
}

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
