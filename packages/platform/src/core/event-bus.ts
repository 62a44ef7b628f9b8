import { EventEmitter } from 'eventemitter3';

/** A map from event name to its payload type; every payload is plain JSON data. */
export type EventMap = { [type: string]: object };

/** A listener that hears every event of every bus it is tapped into, e.g. a trace recorder. */
export type EventTap = (source: string, type: string, payload: object) => void;

/**
 * A typed event emitter for one component (`source`), built on eventemitter3. Taps hear every event
 * regardless of name, which is how a {@link TraceRecorder} sees a whole machine. Emitting is cheap
 * when nobody listens: hot paths check {@link EventBus.active} before building a payload.
 */
export class EventBus<M extends EventMap> {
  private readonly emitter = new EventEmitter();
  private readonly taps: EventTap[] = [];
  private listeners = 0;

  /** @param source the component's name, as it appears in traces (e.g. `memory`, `iommu:smmu0`). */
  constructor(readonly source: string) {}

  /** True when some listener or tap would hear an event: skip building payloads otherwise. */
  get active(): boolean {
    return this.listeners > 0 || this.taps.length > 0;
  }

  /** Subscribes to one event type; returns an unsubscribe function. */
  on<K extends keyof M & string>(type: K, listener: (payload: M[K]) => void): () => void {
    this.emitter.on(type, listener);
    this.listeners += 1;
    return () => {
      this.emitter.off(type, listener);
      this.listeners -= 1;
    };
  }

  /** Adds a tap that hears every event; returns a function that removes it. */
  tap(tap: EventTap): () => void {
    this.taps.push(tap);
    return () => {
      const i = this.taps.indexOf(tap);
      if (i >= 0) this.taps.splice(i, 1);
    };
  }

  /** Emits one event to its listeners, then to every tap. */
  emit<K extends keyof M & string>(type: K, payload: M[K]): void {
    this.emitter.emit(type, payload);
    for (const tap of this.taps) tap(this.source, type, payload);
  }
}
