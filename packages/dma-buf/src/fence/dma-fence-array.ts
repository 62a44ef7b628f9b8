import type { Errno } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { DmaFence, type DmaFenceOps } from './dma-fence.js';
import type { FenceDomain } from './fence-domain.js';

// The kernel parks PENDING_ERROR (1) in fence->error until the array signals; the model keeps it apart.
type PendingError = 'pending' | Errno | null;

/**
 * A fence that aggregates others (`struct dma_fence_array`, drivers/dma-buf/dma-fence-array.c): it
 * signals when all of them signal, or when any does (`signalOnAny`). It completes with the first
 * error a component reports before the array signals.
 *
 * The kernel signals the array from an irq_work after the last component's callback; the model
 * signals it synchronously inside that callback.
 */
export class DmaFenceArray extends DmaFence {
  private static readonly arrayOps: DmaFenceOps = {
    getDriverName: () => 'dma_fence_array',
    getTimelineName: () => 'unbound',
    enableSignaling: (fence) => (fence as DmaFenceArray).armCallbacks(),
    signaled: (fence) => (fence as DmaFenceArray).pollComponents(),
    release: (fence) => {
      for (const f of (fence as DmaFenceArray).fences) f.put();
    },
  };

  /** The aggregated fences (`array->fences`); the array holds a reference to each. */
  readonly fences: readonly DmaFence[];
  /** Signal when any fence signals instead of when all do. */
  readonly signalOnAny: boolean;
  private numPending: number;
  private pendingError: PendingError = 'pending';

  /**
   * `dma_fence_array_create`: the array takes over the caller's reference to each fence and drops
   * them when released. An empty list is the kernel's WARN and throws.
   */
  constructor(
    domain: FenceDomain,
    fences: readonly DmaFence[],
    context: number,
    seqno: number,
    signalOnAny: boolean,
  ) {
    if (fences.length === 0)
      throw new RangeError('dma_fence_array_create: an array needs at least one fence');
    super(domain, DmaFenceArray.arrayOps, context, seqno);
    this.fences = [...fences];
    this.signalOnAny = signalOnAny;
    this.numPending = signalOnAny ? 1 : fences.length;
  }

  /** `enable_signaling`: a callback on every component, each holding a reference to the array. */
  private armCallbacks(): boolean {
    for (const f of this.fences) {
      this.get();
      const added = f.addCallback((component) => this.componentSignaled(component));
      if (E.isLeft(added)) {
        this.setPendingError(f.errorName);
        this.put();
        if (this.completeOne()) {
          this.clearPendingError();
          return false;
        }
      }
    }
    return true;
  }

  /**
   * `signaled`: once signaling is enabled the callbacks keep count; before, the components are polled
   * and counted, and the first error among the signaled ones is the array's.
   */
  private pollComponents(): boolean {
    if (this.signalingEnabled) {
      if (this.numPending > 0) return false;
      this.clearPendingError();
      return true;
    }
    let pending = this.numPending;
    let error: Errno | undefined;
    for (const f of this.fences) {
      if (!f.isSignaled()) continue;
      error ??= f.errorName;
      pending -= 1;
      if (pending === 0) {
        this.setPendingError(error);
        this.clearPendingError();
        return true;
      }
    }
    return false;
  }

  private componentSignaled(component: DmaFence): void {
    this.setPendingError(component.errorName);
    if (this.completeOne()) {
      this.clearPendingError();
      this.signal();
    }
    this.put();
  }

  private completeOne(): boolean {
    this.numPending -= 1;
    return this.numPending === 0;
  }

  private setPendingError(error: Errno | undefined): void {
    if (error !== undefined && this.pendingError === 'pending') this.pendingError = error;
  }

  private clearPendingError(): void {
    const pending = this.pendingError;
    this.pendingError = null;
    if (pending !== 'pending' && pending !== null) this.setError(pending);
  }
}

/** `to_dma_fence_array`: the fence as an array, or null. */
export const toDmaFenceArray = (fence: DmaFence | null): DmaFenceArray | null =>
  fence instanceof DmaFenceArray ? fence : null;

/** `dma_fence_array_first`: the first component of an array, the fence itself otherwise. */
export const dmaFenceArrayFirst = (head: DmaFence | null): DmaFence | null => {
  const array = toDmaFenceArray(head);
  return array === null ? head : (array.fences[0] ?? null);
};

/** `dma_fence_array_next`: component `index` of an array, or null past the end or for a plain fence. */
export const dmaFenceArrayNext = (head: DmaFence | null, index: number): DmaFence | null =>
  toDmaFenceArray(head)?.fences[index] ?? null;
