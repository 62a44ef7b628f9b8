import type { DmaFence } from './dma-fence.js';

const checkTimeout = (op: string, timeoutNs: number): void => {
  if (!(timeoutNs >= 0)) throw new RangeError(`${op}: negative or NaN timeout ${timeoutNs}`);
};

const remaining = (deadline: number, now: number): number => Math.max(1, deadline - now);

/**
 * Moves the clock to the next timer due by `deadline` and fires it. Returns false, without moving
 * the clock, when no timer is due by then.
 */
const stepClock = (fence: DmaFence, deadline: number): boolean => {
  const clock = fence.domain.clock;
  const next = clock.nextDeadline();
  if (next === undefined || next > deadline) return false;
  // A timer already in the past fires on a zero advance.
  clock.advance(Math.max(0, next - clock.now()));
  return true;
};

const timeOut = (fence: DmaFence, deadline: number, what: string): 0 => {
  if (deadline === Number.POSITIVE_INFINITY) {
    throw new Error(`${what}: waiting forever on ${fence.describe()}, which no pending timer can signal`);
  }
  fence.domain.clock.advanceTo(deadline);
  return 0;
};

/**
 * `dma_fence_wait_timeout`: waits up to `timeoutNs` of simulated time for `fence`; a zero timeout
 * only polls. Enables signaling. Negative timeouts are the kernel's WARN and throw.
 *
 * The model is single-threaded, so a wait is synchronous: while the fence is unsignaled, the wait
 * moves the domain's `SimClock` forward one pending timer deadline at a time, firing the timers
 * (simulated devices signal their fences from clock timers), until the fence signals or the next
 * timer lies beyond the deadline. Nothing else can run during the wait, so when no timer due by the
 * deadline is left the fence cannot signal: the clock jumps to the deadline and the wait times out.
 * The clock never moves past the deadline, and stops at the moment the fence signals.
 *
 * Timeouts are in nanoseconds of simulated time (the kernel counts jiffies); `Infinity` stands for
 * `MAX_SCHEDULE_TIMEOUT`. Return values follow `dma_fence_wait_timeout`: the time left (at least 1)
 * when the fence signaled by the deadline, 0 when it timed out. An endless wait on a fence that no
 * pending timer can signal would hang the kernel forever; the model throws instead.
 */
export const dmaFenceWaitTimeout = (fence: DmaFence, timeoutNs: number): number => {
  checkTimeout('dma_fence_wait_timeout', timeoutNs);
  const clock = fence.domain.clock;
  const start = clock.now();
  const deadline = start + timeoutNs;
  fence.enableSwSignaling();
  let result: number | undefined;
  while (result === undefined) {
    if (fence.isSignaled()) result = timeoutNs === 0 ? 1 : remaining(deadline, clock.now());
    else if (timeoutNs === 0) result = 0;
    else if (!stepClock(fence, deadline)) result = timeOut(fence, deadline, 'dma_fence_wait_timeout');
  }
  const bus = fence.domain.bus;
  if (bus.active) {
    bus.emit('fence-wait', { ...fence.ref(), start, end: clock.now(), signaled: result > 0 });
  }
  return result;
};

/** `dma_fence_wait`: waits without a timeout. Throws if nothing pending can ever signal the fence. */
export const dmaFenceWait = (fence: DmaFence): void => {
  dmaFenceWaitTimeout(fence, Number.POSITIVE_INFINITY);
};

/** What {@link dmaFenceWaitAnyTimeout} returns. */
export interface DmaFenceWaitAnyResult {
  /** Time left (at least 1) when a fence signaled, 0 on timeout. */
  readonly remaining: number;
  /** Index of the first signaled fence, or null on timeout (the kernel's `*idx`). */
  readonly index: number | null;
}

const firstSignaled = (fences: readonly DmaFence[]): number | null => {
  const i = fences.findIndex((f) => f.isSignaled());
  return i < 0 ? null : i;
};

/**
 * `dma_fence_wait_any_timeout`: waits until any of `fences` signals, on the simulated clock (as
 * {@link dmaFenceWaitTimeout}). All fences must belong to one domain. An empty list or a negative timeout is the
 * kernel's WARN and throws.
 */
export const dmaFenceWaitAnyTimeout = (
  fences: readonly DmaFence[],
  timeoutNs: number,
): DmaFenceWaitAnyResult => {
  checkTimeout('dma_fence_wait_any_timeout', timeoutNs);
  const head = fences[0];
  if (head === undefined) throw new RangeError('dma_fence_wait_any_timeout: no fences to wait on');
  if (fences.some((f) => f.domain !== head.domain)) {
    throw new Error('dma_fence_wait_any_timeout: the fences belong to different domains (clocks)');
  }
  if (timeoutNs === 0) {
    const index = firstSignaled(fences);
    return { remaining: index === null ? 0 : 1, index };
  }
  const clock = head.domain.clock;
  const deadline = clock.now() + timeoutNs;
  // Like the kernel's dma_fence_add_callback loop: stop at the first fence found signaled.
  const early = fences.findIndex((f) => !f.enableSwSignaling());
  if (early >= 0) return { remaining: timeoutNs, index: early };
  for (;;) {
    const index = firstSignaled(fences);
    if (index !== null) return { remaining: remaining(deadline, clock.now()), index };
    if (!stepClock(head, deadline))
      return { remaining: timeOut(head, deadline, 'dma_fence_wait_any_timeout'), index };
  }
};
