import type { SimClock } from './clock.js';
import type { EventBus, EventMap } from './event-bus.js';

/** One recorded event: its order, simulated time, source component, type and payload. */
export interface TraceEntry {
  readonly seq: number;
  readonly time: number;
  readonly source: string;
  readonly type: string;
  readonly payload: unknown;
}

/**
 * Collects the events of any number of {@link EventBus}es into one ordered, JSON-serialisable trace
 * that can be saved, diffed and replayed. Payloads are deep-copied through JSON when recorded, so a
 * later mutation by the emitter cannot rewrite history.
 */
export class TraceRecorder {
  private readonly entries: TraceEntry[] = [];
  private readonly detach: (() => void)[] = [];

  constructor(private readonly clock: SimClock) {}

  /** Starts recording every event of `bus`. */
  record<M extends EventMap>(bus: EventBus<M>): this {
    this.detach.push(
      bus.tap((source, type, payload) => {
        this.entries.push({
          seq: this.entries.length,
          time: this.clock.now(),
          source,
          type,
          payload: JSON.parse(JSON.stringify(payload)) as unknown,
        });
      }),
    );
    return this;
  }

  /** Stops recording from every bus. */
  stop(): void {
    for (const d of this.detach.splice(0)) d();
  }

  /** The trace so far. */
  get trace(): readonly TraceEntry[] {
    return this.entries;
  }

  /** Entries matching a source and/or type. */
  filter(source?: string, type?: string): TraceEntry[] {
    return this.entries.filter(
      (e) => (source === undefined || e.source === source) && (type === undefined || e.type === type),
    );
  }

  /** The trace as JSON text, one entry per line, stable for diffing. */
  toJsonLines(): string {
    return this.entries.map((e) => JSON.stringify(e)).join('\n');
  }
}
