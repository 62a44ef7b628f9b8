import { ERRNO, type Errno, fail, type KResult, ok } from '@sharedbuf/platform';
import type { DmaFenceRef } from './events.js';
import type { FenceDomain } from './fence-domain.js';

/**
 * A fence's driver hooks (`struct dma_fence_ops`). The names are mandatory; the rest is optional,
 * as in Linux. A custom `wait` is not modelled: every wait is the default one on the simulated clock.
 */
export interface DmaFenceOps {
  /** `get_driver_name`. */
  getDriverName(fence: DmaFence): string;
  /** `get_timeline_name`. */
  getTimelineName(fence: DmaFence): string;
  /**
   * `enable_signaling`: called once, the first time someone waits or adds a callback. Returning
   * false means the fence already passed (it is then signaled at once); an error may be set first.
   */
  enableSignaling?(fence: DmaFence): boolean;
  /** `signaled`: polls the hardware; true makes the fence signal now. May set an error first. */
  signaled?(fence: DmaFence): boolean;
  /** `release`: the last reference was dropped; drop the references the fence holds. */
  release?(fence: DmaFence): void;
}

/** A fence callback (`dma_fence_func_t`). */
export type DmaFenceFunc = (fence: DmaFence, cb: DmaFenceCb) => void;

/**
 * A registered callback (`struct dma_fence_cb`): the handle {@link DmaFence.addCallback} returns and
 * {@link DmaFence.removeCallback} takes.
 */
export class DmaFenceCb {
  /**
   * True while queued on a fence and not yet run or removed (the kernel's non-empty `cb->node`).
   * Maintained by the fence; callers only read it.
   */
  queued = false;

  /** @param func the function to run when the fence signals. */
  constructor(readonly func: DmaFenceFunc) {}
}

/** Options of {@link DmaFence}'s constructor. */
export interface DmaFenceInit {
  /** `dma_fence_init64`: compare seqnos as 64-bit numbers instead of wrapping 32-bit ones. */
  readonly seqno64?: boolean;
}

const checkId = (what: string, value: number): void => {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`dma_fence_init: ${what} ${value} is not a non-negative safe integer`);
  }
};

/**
 * A DMA fence (`struct dma_fence`, drivers/dma-buf/dma-fence.c): a one-shot completion event of some
 * device work, ordered by `seqno` within its `context`. It signals exactly once, at a simulated time,
 * optionally with an error, and then runs its callbacks in registration order.
 *
 * References are counted as with `kref`: the creator holds the first; {@link get} and {@link put}
 * add and drop one. Any use after the last {@link put} throws, so a refcounting bug in a driver
 * model shows up where it happens instead of as a silent success.
 *
 * Seqnos are JavaScript numbers, so 64-bit seqnos are exact up to 2^53 - 1.
 */
export class DmaFence {
  /** Per-domain id, for traces: several fences may share context and seqno (stubs, mocks). */
  readonly id: number;
  /** True for `dma_fence_init64` fences: seqnos compare as 64-bit numbers. */
  readonly seqno64: boolean;
  private refs = 1;
  private signaledFlag = false;
  private enableSignalFlag = false;
  private errorCode: Errno | undefined;
  private signalTime: number | undefined;
  private callbacks: DmaFenceCb[] = [];

  /**
   * `dma_fence_init` / `dma_fence_init64`. Throws (like the kernel's BUG_ON on bad arguments) unless
   * context and seqno are non-negative safe integers.
   */
  constructor(
    /** The domain whose clock, contexts and bus the fence uses. */
    readonly domain: FenceDomain,
    /** The driver's hooks (`fence->ops`). */
    readonly ops: DmaFenceOps,
    /** The timeline, from {@link FenceDomain.contextAlloc} (`fence->context`). */
    readonly context: number,
    /** Position on the timeline (`fence->seqno`). */
    readonly seqno: number,
    init: DmaFenceInit = {},
  ) {
    checkId('context', context);
    checkId('seqno', seqno);
    this.seqno64 = init.seqno64 ?? false;
    this.id = domain.nextFenceId();
    const bus = domain.bus;
    if (bus.active) {
      bus.emit('fence-init', { ...this.ref(), driver: this.driverName, timeline: this.timelineName });
    }
  }

  /** The driver's name (`dma_fence_driver_name`). */
  get driverName(): string {
    return this.ops.getDriverName(this);
  }

  /** The timeline's name (`dma_fence_timeline_name`). */
  get timelineName(): string {
    return this.ops.getTimelineName(this);
  }

  /** Current reference count (`kref_read`); 0 once released. */
  get refcount(): number {
    return this.refs;
  }

  /** The error the fence completes with, as a negative errno, or 0 (`fence->error`). */
  get error(): number {
    return this.errorCode === undefined ? 0 : -ERRNO[this.errorCode];
  }

  /** The error's symbolic name, if one was set. */
  get errorName(): Errno | undefined {
    return this.errorCode;
  }

  /** Simulated time (ns) at which the fence signaled, or undefined before (`fence->timestamp`). */
  get timestamp(): number | undefined {
    return this.signalTime;
  }

  /** True once signaling was enabled (`DMA_FENCE_FLAG_ENABLE_SIGNAL_BIT`). */
  get signalingEnabled(): boolean {
    return this.enableSignalFlag;
  }

  /** How events name this fence. */
  ref(): DmaFenceRef {
    return { fence: this.id, context: this.context, seqno: this.seqno };
  }

  /** `dma_fence_get`: takes a reference and returns the fence. Throws after the last put. */
  get(): this {
    this.assertLive('dma_fence_get');
    this.refs += 1;
    return this;
  }

  /**
   * `dma_fence_put`: drops a reference; the last one releases the fence (`ops.release` runs). Throws
   * after the last put. Releasing an unsignaled fence that still has callbacks throws: the kernel
   * warns "released with pending signals", a refcounting bug in whoever dropped the reference.
   */
  put(): void {
    this.assertLive('dma_fence_put');
    if (this.refs === 1 && !this.signaledFlag && this.callbacks.length > 0) {
      throw new Error(`dma_fence_release: fence ${this.describe()} released with pending signals`);
    }
    this.refs -= 1;
    if (this.refs > 0) return;
    this.ops.release?.(this);
    const bus = this.domain.bus;
    if (bus.active) bus.emit('fence-release', this.ref());
  }

  /** `dma_fence_test_signaled_flag`: true if signaled, without polling the driver. */
  testSignaledFlag(): boolean {
    this.assertLive('dma_fence_test_signaled_flag');
    return this.signaledFlag;
  }

  /** `dma_fence_is_signaled`: true if signaled; polls `ops.signaled` and signals the fence if it says so. */
  isSignaled(): boolean {
    this.assertLive('dma_fence_is_signaled');
    if (this.signaledFlag) return true;
    if (this.ops.signaled?.(this)) {
      this.signal();
      return true;
    }
    return false;
  }

  /**
   * `dma_fence_signal`: completes the fence at the current simulated time and runs its callbacks in
   * registration order. `EINVAL` if it already signaled (nothing changes).
   */
  signal(): KResult<void> {
    return this.signalTimestamp(this.domain.clock.now());
  }

  /** `dma_fence_signal_timestamp`: as {@link signal}, recording `timestamp` (ns) as the completion time. */
  signalTimestamp(timestamp: number): KResult<void> {
    this.assertLive('dma_fence_signal');
    if (this.signaledFlag) {
      return fail(
        'EINVAL',
        `Fence ${this.describe()} was already signaled; a fence signals only once.`,
        this.ref(),
      );
    }
    this.signaledFlag = true;
    this.signalTime = timestamp;
    const callbacks = this.callbacks;
    this.callbacks = [];
    const bus = this.domain.bus;
    if (bus.active) {
      bus.emit('fence-signaled', { ...this.ref(), error: this.errorCode ?? null, time: timestamp });
    }
    callbacks.forEach((cb, index) => {
      if (!cb.queued) return;
      cb.queued = false;
      if (bus.active) bus.emit('fence-callback', { ...this.ref(), index });
      cb.func(this, cb);
    });
    return ok(undefined);
  }

  /**
   * `dma_fence_set_error`: the fence will complete with `error`. Only valid before it signals: after,
   * the kernel warns and the model throws.
   */
  setError(error: Errno): void {
    this.assertLive('dma_fence_set_error');
    if (this.signaledFlag) {
      throw new Error(`dma_fence_set_error: fence ${this.describe()} already signaled; set the error before`);
    }
    this.errorCode = error;
    const bus = this.domain.bus;
    if (bus.active) bus.emit('fence-set-error', { ...this.ref(), error });
  }

  /** `dma_fence_get_status`: 0 while pending, 1 when signaled without error, else the negative errno. */
  getStatus(): number {
    if (!this.isSignaled()) return 0;
    return this.error === 0 ? 1 : this.error;
  }

  /**
   * `dma_fence_enable_sw_signaling`: tells the driver someone waits (calls `ops.enableSignaling`
   * once). Returns false if the fence is, or thereby became, signaled (`__dma_fence_enable_signaling`).
   */
  enableSwSignaling(): boolean {
    this.assertLive('dma_fence_enable_sw_signaling');
    const wasSet = this.enableSignalFlag;
    this.enableSignalFlag = true;
    if (this.signaledFlag) return false;
    if (!wasSet) {
      const bus = this.domain.bus;
      if (bus.active) bus.emit('fence-enable-signaling', this.ref());
      if (this.ops.enableSignaling?.(this) === false) {
        this.signal();
        return false;
      }
    }
    return true;
  }

  /**
   * `dma_fence_add_callback`: runs `func` once when the fence signals. `ENOENT` if it already signaled
   * (the callback is not called, as in Linux). Enables signaling.
   */
  addCallback(func: DmaFenceFunc): KResult<DmaFenceCb> {
    this.assertLive('dma_fence_add_callback');
    if (this.signaledFlag || !this.enableSwSignaling()) {
      return fail(
        'ENOENT',
        `Fence ${this.describe()} already signaled; check its status instead of waiting.`,
        {
          ...this.ref(),
        },
      );
    }
    const cb = new DmaFenceCb(func);
    cb.queued = true;
    this.callbacks.push(cb);
    return ok(cb);
  }

  /**
   * `dma_fence_remove_callback`: true if `cb` was still queued and is now removed, false if it already
   * ran (or was removed).
   */
  removeCallback(cb: DmaFenceCb): boolean {
    this.assertLive('dma_fence_remove_callback');
    if (!cb.queued) return false;
    cb.queued = false;
    // During signaling the list was already handed to the signal loop, which skips unqueued callbacks.
    const i = this.callbacks.indexOf(cb);
    if (i >= 0) this.callbacks.splice(i, 1);
    return true;
  }

  /** `driver:timeline:context:seqno`, for messages (`dma_fence_describe`). */
  describe(): string {
    return `${this.driverName}:${this.timelineName}:${this.context}:${this.seqno}`;
  }

  private assertLive(op: string): void {
    if (this.refs <= 0) {
      throw new Error(`${op}: fence ${this.describe()} (id ${this.id}) used after its last dma_fence_put`);
    }
  }
}
