/** A callback scheduled on the {@link SimClock}. */
export type TimerCallback = (now: number) => void;

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: TimerCallback;
  cancelled: boolean;
}

/** A handle to cancel a scheduled timer. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * The simulated clock, in nanoseconds. Nothing in the model reads the wall clock: time moves only
 * when a caller advances it, and timers fire in deadline order (ties in scheduling order).
 */
export class SimClock {
  private nowNs = 0;
  private seq = 0;
  private timers: Timer[] = [];

  /** Current simulated time in ns. */
  now(): number {
    return this.nowNs;
  }

  /** Schedules `callback` at absolute time `at` (ns); a time in the past fires on the next advance. */
  at(at: number, callback: TimerCallback): TimerHandle {
    const timer: Timer = { at, seq: this.seq++, callback, cancelled: false };
    this.timers.push(timer);
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Moves time forward by `deltaNs`, firing every timer that falls due, each at its own deadline. */
  advance(deltaNs: number): void {
    if (!(deltaNs >= 0)) throw new RangeError(`SimClock.advance: negative or NaN delta ${deltaNs}`);
    const end = this.nowNs + deltaNs;
    for (let next = this.timers[0]; next !== undefined && next.at <= end; next = this.timers[0]) {
      this.timers.shift();
      if (next.cancelled) continue;
      this.nowNs = Math.max(this.nowNs, next.at);
      next.callback(this.nowNs);
    }
    this.nowNs = end;
  }

  /** Deadline of the earliest pending timer, or `undefined` when none is pending. */
  nextDeadline(): number | undefined {
    return this.timers.find((t) => !t.cancelled)?.at;
  }

  /** Advances to absolute time `t` (no-op when `t` is in the past). */
  advanceTo(t: number): void {
    if (t > this.nowNs) this.advance(t - this.nowNs);
  }

  /** Number of timers still pending (cancelled ones excluded). */
  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
