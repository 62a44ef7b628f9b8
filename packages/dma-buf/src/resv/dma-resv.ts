import { type KResult, ok } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { DmaFence } from '../fence/dma-fence.js';
import { DmaFenceArray } from '../fence/dma-fence-array.js';
import { dmaFenceIsContainer } from '../fence/dma-fence-unwrap.js';
import type { FenceDomain } from '../fence/fence-domain.js';
import { dmaFenceIsLaterOrSame } from '../fence/fence-order.js';
import { dmaFenceWaitTimeout } from '../fence/fence-wait.js';
import { DmaResvUsage, dmaResvUsageName } from './usage.js';
import { type WwAcquireCtx, WwMutex } from './ww-mutex.js';

/** One entry of a reservation object: a fence and how it uses the buffer. */
export interface DmaResvFence {
  readonly fence: DmaFence;
  readonly usage: DmaResvUsage;
}

/**
 * A reservation object (`struct dma_resv`, drivers/dma-buf/dma-resv.c): the fences of every
 * operation that uses one buffer, each tagged with a {@link DmaResvUsage}. Producers add `WRITE`
 * fences, consumers wait for them before reading; asking for usage U sees every fence of usage ≤ U.
 *
 * Updates happen under a wound/wait lock ({@link lock}). Calling an update without holding it
 * throws, as the kernel's `dma_resv_assert_held` is a lockdep assertion: a bug in the caller, not a
 * runtime condition. Readers ({@link getFences}, {@link testSignaled}, {@link waitTimeout}) need no
 * lock, as under RCU in Linux.
 *
 * Slots: {@link addFence} cannot fail, so room is reserved first with {@link reserveFences}; adding
 * with no reserved slot left is the kernel's BUG_ON and throws. The model grants exactly the slots
 * reserved, and forgets unused ones on unlock (as Linux does with CONFIG_DEBUG_MUTEXES): the kernel
 * rounds its allocation up, so a driver that adds more than it reserved may work there by luck.
 *
 * The object holds a reference to each of its fences and drops it when the fence is replaced or the
 * object is finalized.
 */
export class DmaResv {
  readonly name: string;
  private readonly mutex: WwMutex;
  private entries: DmaResvFence[] = [];
  private capacity = 0;
  private finished = false;

  /**
   * `dma_resv_init`.
   * @param name the object's name in traces; `resvN` by default.
   */
  constructor(
    readonly domain: FenceDomain,
    name?: string,
  ) {
    this.name = name ?? domain.nextResvName();
    this.mutex = new WwMutex(domain.reservationWwClass);
  }

  /**
   * `dma_resv_lock`: locks the object for updates, with an acquire context when locking several.
   * Errors as {@link WwMutex.lock}: `EDEADLK` (back off, then {@link lockSlow}), `EBUSY` (the kernel
   * would sleep). Throws once the object was finalized.
   */
  lock(ctx?: WwAcquireCtx): KResult<void> {
    this.assertAlive('dma_resv_lock');
    return this.locked(this.mutex.lock(ctx), ctx);
  }

  /** `dma_resv_lock_slow`: the retry after `EDEADLK`, with a context that holds no other lock. */
  lockSlow(ctx: WwAcquireCtx): KResult<void> {
    this.assertAlive('dma_resv_lock_slow');
    return this.locked(this.mutex.lockSlow(ctx), ctx);
  }

  /** `dma_resv_trylock`: locks without a context if free. */
  trylock(): boolean {
    this.assertAlive('dma_resv_trylock');
    const taken = this.mutex.trylock();
    if (taken) this.locked(ok(undefined), undefined);
    return taken;
  }

  /** `dma_resv_unlock`: unused reserved slots are forgotten. Throws if not locked. */
  unlock(): void {
    this.mutex.unlock();
    this.capacity = this.entries.length;
    const bus = this.domain.bus;
    if (bus.active) bus.emit('resv-unlock', { resv: this.name });
  }

  /** `dma_resv_is_locked`. */
  isLocked(): boolean {
    return this.mutex.isLocked();
  }

  /** `dma_resv_locking_ctx`: the context holding the lock, or null. */
  lockingCtx(): WwAcquireCtx | null {
    return this.mutex.ctx;
  }

  /**
   * `dma_resv_reserve_fences`: guarantees room for `num` more fences until unlock. Growing the list
   * leaves its signaled fences behind, as the kernel's reallocation does. Requires the lock.
   */
  reserveFences(num: number): void {
    this.assertHeld('dma_resv_reserve_fences');
    if (!Number.isSafeInteger(num) || num < 0)
      throw new RangeError(`dma_resv_reserve_fences: bad count ${num}`);
    if (this.entries.length + num <= this.capacity) return;
    const dropped = this.entries.filter((e) => e.fence.isSignaled());
    this.entries = this.entries.filter((e) => !dropped.includes(e));
    this.capacity = this.entries.length + num;
    const bus = this.domain.bus;
    if (bus.active) {
      bus.emit('resv-reserve', { resv: this.name, num, capacity: this.capacity, pruned: dropped.length });
    }
    for (const e of dropped) e.fence.put();
  }

  /**
   * `dma_resv_add_fence`: adds `fence` with `usage`, taking a reference. It replaces, in place, the
   * first entry that is either signaled, or from the same context with a usage at least `usage` and
   * a seqno not later than `fence`'s; otherwise it takes a reserved slot. Requires the lock. Throws
   * with no slot reserved (the kernel's BUG_ON) and for containers (arrays, chains: add their fences
   * one by one; the kernel warns).
   */
  addFence(fence: DmaFence, usage: DmaResvUsage): void {
    this.assertHeld('dma_resv_add_fence');
    if (dmaFenceIsContainer(fence)) {
      throw new Error(
        `dma_resv_add_fence: ${fence.describe()} is a container; add the fences it holds instead`,
      );
    }
    const i = this.entries.findIndex(
      (e) =>
        (e.fence.context === fence.context && e.usage >= usage && dmaFenceIsLaterOrSame(fence, e.fence)) ||
        e.fence.isSignaled(),
    );
    if (i < 0 && this.entries.length >= this.capacity) {
      throw new Error(
        `dma_resv_add_fence: no fence slot reserved on ${this.name}; call reserveFences() first`,
      );
    }
    const replaced = i < 0 ? undefined : this.entries[i];
    fence.get();
    const entry = { fence, usage };
    if (replaced === undefined) this.entries.push(entry);
    else this.entries[i] = entry;
    const bus = this.domain.bus;
    if (bus.active) {
      bus.emit('resv-add-fence', {
        resv: this.name,
        fence: fence.ref(),
        usage: dmaResvUsageName(usage),
        replaced: replaced?.fence.ref() ?? null,
      });
    }
    replaced?.fence.put();
  }

  /**
   * `dma_resv_replace_fences`: every fence of `context` becomes `replacement` with `usage` (e.g. a
   * preemption fence replaced by a page-table update fence). Requires the lock.
   */
  replaceFences(context: number, replacement: DmaFence, usage: DmaResvUsage): void {
    this.assertHeld('dma_resv_replace_fences');
    const old: DmaFence[] = [];
    this.entries = this.entries.map((e) => {
      if (e.fence.context !== context) return e;
      old.push(e.fence);
      return { fence: replacement.get(), usage };
    });
    const bus = this.domain.bus;
    if (bus.active) {
      bus.emit('resv-replace-fences', {
        resv: this.name,
        context,
        replacement: replacement.ref(),
        usage: dmaResvUsageName(usage),
        count: old.length,
      });
    }
    for (const f of old) f.put();
  }

  /**
   * `dma_resv_for_each_fence`: the entries of usage ≤ `usage`, signaled or not, in list order. The
   * fences are borrowed: valid while the lock is held. Requires the lock.
   */
  fences(usage: DmaResvUsage): DmaResvFence[] {
    this.assertHeld('dma_resv_iter_first');
    return this.entries.filter((e) => e.usage <= usage).map((e) => ({ ...e }));
  }

  /**
   * `dma_resv_get_fences`: the unsignaled fences of usage ≤ `usage`, each with a new reference the
   * caller must put. No lock needed.
   */
  getFences(usage: DmaResvUsage): DmaFence[] {
    return this.unsignaled(usage).map((e) => e.fence.get());
  }

  /**
   * `dma_resv_get_singleton`: one fence standing for all of {@link getFences}: null if none, the fence
   * itself if one, else a new {@link DmaFenceArray} (signal on all) on a fresh context. The caller
   * owns the returned reference.
   */
  getSingleton(usage: DmaResvUsage): DmaFence | null {
    const fences = this.getFences(usage);
    if (fences.length <= 1) return fences[0] ?? null;
    return new DmaFenceArray(this.domain, fences, this.domain.contextAlloc(1), 1, false);
  }

  /**
   * `dma_resv_copy_fences`: replaces this object's fences with `src`'s unsignaled ones, of every
   * usage. Requires this object's lock (not `src`'s).
   */
  copyFences(src: DmaResv): void {
    this.assertHeld('dma_resv_copy_fences');
    const copied = src
      .unsignaled(DmaResvUsage.BOOKKEEP)
      .map((e) => ({ fence: e.fence.get(), usage: e.usage }));
    const old = this.entries;
    this.entries = copied;
    this.capacity = copied.length;
    const bus = this.domain.bus;
    if (bus.active) bus.emit('resv-copy-fences', { resv: this.name, src: src.name, count: copied.length });
    for (const e of old) e.fence.put();
  }

  /** `dma_resv_test_signaled`: true if every fence of usage ≤ `usage` signaled. No lock needed. */
  testSignaled(usage: DmaResvUsage): boolean {
    return this.firstUnsignaled(usage) === undefined;
  }

  /**
   * `dma_resv_wait_timeout`: waits, on the simulated clock, for every fence of usage ≤ `usage`, one
   * after the other within one overall deadline (see {@link dmaFenceWaitTimeout}). Returns the time
   * left (at least 1) or 0 on timeout. A zero timeout only polls, like {@link testSignaled} (Linux
   * turns it into a one-jiffy wait per fence, which has no meaning in nanoseconds). No lock needed.
   */
  waitTimeout(usage: DmaResvUsage, timeoutNs: number): number {
    if (!(timeoutNs >= 0))
      throw new RangeError(`dma_resv_wait_timeout: negative or NaN timeout ${timeoutNs}`);
    if (timeoutNs === 0) return this.testSignaled(usage) ? 1 : 0;
    const clock = this.domain.clock;
    const deadline = clock.now() + timeoutNs;
    // Fences added while waiting (by timers) are waited for too, like the kernel's restarted iterator.
    for (let fence = this.firstUnsignaled(usage); fence !== undefined; fence = this.firstUnsignaled(usage)) {
      fence.get();
      const left = dmaFenceWaitTimeout(fence, deadline - clock.now());
      fence.put();
      if (left === 0) return 0;
    }
    return Math.max(1, deadline - clock.now());
  }

  /** `dma_resv_fini`: drops every fence. Finalizing a locked object throws. */
  fini(): void {
    this.assertAlive('dma_resv_fini');
    if (this.isLocked()) throw new Error(`dma_resv_fini: ${this.name} is still locked`);
    const old = this.entries;
    this.entries = [];
    this.capacity = 0;
    this.finished = true;
    const bus = this.domain.bus;
    if (bus.active) bus.emit('resv-fini', { resv: this.name });
    for (const e of old) e.fence.put();
  }

  // The unlocked iterator polls every entry, whatever its usage, as dma_resv_iter_walk_unlocked does.
  private unsignaled(usage: DmaResvUsage): DmaResvFence[] {
    return [...this.entries].filter((e) => !e.fence.isSignaled() && e.usage <= usage);
  }

  private firstUnsignaled(usage: DmaResvUsage): DmaFence | undefined {
    return [...this.entries].find((e) => !e.fence.isSignaled() && e.usage <= usage)?.fence;
  }

  private locked(result: KResult<void>, ctx: WwAcquireCtx | undefined): KResult<void> {
    const bus = this.domain.bus;
    if (E.isRight(result) && bus.active) bus.emit('resv-lock', { resv: this.name, ctx: ctx?.stamp ?? null });
    return result;
  }

  private assertHeld(op: string): void {
    if (!this.mutex.isLocked()) {
      throw new Error(`${op}: ${this.name} is not locked; lock it first (dma_resv_assert_held)`);
    }
  }

  private assertAlive(op: string): void {
    if (this.finished) throw new Error(`${op}: ${this.name} was finalized with dma_resv_fini`);
  }
}
