import { physicalLimit } from './attacher-constraints.js';
import type { CombinedConstraints } from './combined-constraints.js';
import type { ConflictCertificate } from './conflict-certificate.js';
import type { HeapCapabilities } from './heap-capabilities.js';
import { type Attempt, planWith, refuse } from './plan-heaps.js';
import { formatBytes, formatLimit, formatNames } from './units.js';

/** The swiotlb pool: its size and the highest physical address it occupies. */
export interface BouncePool {
  readonly bytes: number;
  readonly maxAddress: number;
}

/**
 * When the limit of devices that accept bouncing is what fails, plans again without their limit;
 * they then get swiotlb copies. Devices that need one range or count segments are never bounced
 * (a bounced list is cut into slots), nor are those that cannot reach the pool.
 */
export const planWithBounce = (
  size: number,
  combined: CombinedConstraints,
  heaps: readonly HeapCapabilities[],
  strict: ConflictCertificate,
  pool: BouncePool,
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
  if (!relaxed.ok) return undefined;
  if (relaxed.plan.bounced.length === 0 || size <= pool.bytes) return relaxed;
  const bounced = combined.attachers.filter((c) => relaxed.plan.bounced.includes(c.attacher));
  return refuse('ENOMEM', {
    field: 'bounce',
    size,
    imposedBy: bounced.map((c) => ({ attacher: c.attacher, value: physicalLimit(c) })),
    combined: strict.combined,
    required: size,
    available: pool.bytes,
    heapsTried: strict.heapsTried,
    message: `the ${formatBytes(size)} buffer cannot lie below the limit of ${formatNames(bounced.map((c) => `${c.attacher} (${formatLimit(physicalLimit(c))})`))}, and bouncing it needs more than the ${formatBytes(pool.bytes)} swiotlb pool; use smaller buffers or attach these devices through an IOMMU`,
  });
};
