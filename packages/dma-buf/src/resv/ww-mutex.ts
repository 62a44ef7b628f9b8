import { fail, type KResult, ok } from '@sharedbuf/platform';

/**
 * A class of wound/wait mutexes (`struct ww_class`, `DEFINE_WD_CLASS`): it hands out the stamps that
 * order acquire contexts. The kernel keeps the stamp counter in a static `reservation_ww_class`; here
 * each {@link FenceDomain} owns one, so two machines in one process stay independent.
 */
export class WwClass {
  private stamp = 0;

  /** @param name the class name, as in `reservation_ww_class`. */
  constructor(readonly name: string) {}

  /** `ww_acquire_init`: starts a context; later contexts get larger stamps, i.e. are younger. */
  acquireInit(): WwAcquireCtx {
    this.stamp += 1;
    return new WwAcquireCtx(this, this.stamp);
  }
}

/**
 * An acquire context (`struct ww_acquire_ctx`): one task's attempt to lock a set of objects. Its
 * stamp decides who backs off under the wait-die rule.
 */
export class WwAcquireCtx {
  /** Number of mutexes this context holds (`ctx->acquired`). */
  acquired = 0;
  private done = false;

  /** Use {@link WwClass.acquireInit}. */
  constructor(
    readonly wwClass: WwClass,
    readonly stamp: number,
  ) {}

  /** `ww_acquire_done`: no more locks will be taken with this context. */
  acquireDone(): void {
    this.done = true;
  }

  /** True once {@link acquireDone} was called. */
  get isDone(): boolean {
    return this.done;
  }

  /** `ww_acquire_fini`. Finishing while still holding locks is the bug the kernel's debug build warns of. */
  fini(): void {
    if (this.acquired !== 0) {
      throw new Error(`ww_acquire_fini: context ${this.stamp} still holds ${this.acquired} lock(s)`);
    }
    this.done = true;
  }

  /** True if this context is younger (started later) than `other` (`__ww_ctx_less` in wait-die). */
  isYoungerThan(other: WwAcquireCtx): boolean {
    return this.stamp > other.stamp;
  }
}

/** The owner of a locked {@link WwMutex}: a context, or `'no-ctx'` when locked with a NULL context. */
export type WwOwner = WwAcquireCtx | 'no-ctx';

/**
 * A wound/wait mutex with the wait-die policy of `reservation_ww_class` (`struct ww_mutex`,
 * kernel/locking/ww_mutex.h), reduced to what a single-threaded model can express.
 *
 * The model never sleeps: where the kernel would block until the holder unlocks, {@link lock}
 * returns `EBUSY` instead, because in a single-threaded simulation nothing can run to release the
 * lock while the caller waits. Wait-die itself is kept: a context that already holds locks and meets
 * an older holder dies with `EDEADLK`, and must drop its locks and retry with {@link lockSlow}.
 */
export class WwMutex {
  private holder: WwOwner | null = null;

  /** @param wwClass the class whose contexts may lock this mutex. */
  constructor(readonly wwClass: WwClass) {}

  /** True while locked (`ww_mutex_is_locked`). */
  isLocked(): boolean {
    return this.holder !== null;
  }

  /** The context that holds the lock, or null if unlocked or locked without one (`ww_mutex.ctx`). */
  get ctx(): WwAcquireCtx | null {
    return this.holder instanceof WwAcquireCtx ? this.holder : null;
  }

  /**
   * `ww_mutex_lock`. Errors: `EDEADLK` when `ctx` holds other locks and the holder's context is older
   * (wait-die: the younger one backs off); `EBUSY` when the kernel would sleep (see the class note).
   * Relocking with the context that holds it is `-EALREADY` in Linux; the errno list has no such code,
   * so the model throws. A context from another class, or one marked done, is a bug and throws.
   */
  lock(ctx?: WwAcquireCtx): KResult<void> {
    if (ctx !== undefined) this.checkCtx(ctx);
    const holder = this.holder;
    if (holder === null) {
      this.take(ctx);
      return ok(undefined);
    }
    if (ctx !== undefined && holder === ctx) {
      throw new Error(
        `ww_mutex_lock: context ${ctx.stamp} already holds this lock (Linux returns -EALREADY)`,
      );
    }
    if (
      ctx !== undefined &&
      ctx.acquired > 0 &&
      holder instanceof WwAcquireCtx &&
      ctx.isYoungerThan(holder)
    ) {
      return fail('EDEADLK', 'Lock contended by an older acquire context: drop every held lock and retry.', {
        ctx: ctx.stamp,
        holder: holder.stamp,
      });
    }
    return fail(
      'EBUSY',
      'The lock is held and the single-threaded model cannot sleep until it is released.',
      {
        ctx: ctx?.stamp ?? null,
        holder: holder === 'no-ctx' ? null : holder.stamp,
      },
    );
  }

  /**
   * `ww_mutex_lock_slow`: the retry after `EDEADLK`, which never dies. The context must hold no other
   * lock (the kernel's debug build checks this; the model throws). `EBUSY` as for {@link lock}.
   */
  lockSlow(ctx: WwAcquireCtx): KResult<void> {
    if (ctx.acquired !== 0) {
      throw new Error(`ww_mutex_lock_slow: context ${ctx.stamp} must drop its ${ctx.acquired} lock(s) first`);
    }
    return this.lock(ctx);
  }

  /** `ww_mutex_trylock` without a context: takes the lock if free. */
  trylock(): boolean {
    if (this.holder !== null) return false;
    this.take(undefined);
    return true;
  }

  /** `ww_mutex_unlock`. Unlocking a free mutex is a bug and throws. */
  unlock(): void {
    const holder = this.holder;
    if (holder === null) throw new Error('ww_mutex_unlock: the mutex is not locked');
    if (holder instanceof WwAcquireCtx) holder.acquired -= 1;
    this.holder = null;
  }

  private take(ctx: WwAcquireCtx | undefined): void {
    this.holder = ctx ?? 'no-ctx';
    if (ctx !== undefined) ctx.acquired += 1;
  }

  private checkCtx(ctx: WwAcquireCtx): void {
    if (ctx.wwClass !== this.wwClass) {
      throw new Error(
        `ww_mutex_lock: context of class ${ctx.wwClass.name} used on a ${this.wwClass.name} mutex`,
      );
    }
    if (ctx.isDone) throw new Error(`ww_mutex_lock: context ${ctx.stamp} was marked done`);
  }
}
