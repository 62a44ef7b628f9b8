import { EventBus, type SimClock } from '@sharedbuf/platform';
import { WwClass } from '../resv/ww-mutex.js';
import { DmaFence, type DmaFenceOps } from './dma-fence.js';
import type { DmaFenceEvents } from './events.js';

const stubOps: DmaFenceOps = {
  getDriverName: () => 'stub',
  getTimelineName: () => 'stub',
};

/**
 * The state drivers/dma-buf keeps in globals, gathered into one object per simulated machine so two
 * machines in one process never share it: the fence context counter (`dma_fence_context_counter`),
 * the stub fence (`dma_fence_stub`), the reservation lock class (`reservation_ww_class`), the clock
 * fences read their timestamps from (`ktime_get`), and the event bus of every fence and reservation
 * object made with it.
 */
export class FenceDomain {
  /** The class of every reservation object's lock in this domain. */
  readonly reservationWwClass = new WwClass('reservation_ww_class');
  // Context 0 belongs to the stub fences, as in Linux.
  private contextCounter = 1;
  private fenceIds = 0;
  private resvIds = 0;
  private stub: DmaFence | undefined;

  /**
   * @param clock the simulated clock: signal timestamps and waits.
   * @param bus the bus for fence and reservation events; a fresh `dma-fence` bus by default.
   */
  constructor(
    readonly clock: SimClock,
    readonly bus: EventBus<DmaFenceEvents> = new EventBus<DmaFenceEvents>('dma-fence'),
  ) {}

  /**
   * `dma_fence_context_alloc`: reserves `num` consecutive fence contexts and returns the first. Asking
   * for none is the kernel's WARN and throws here.
   */
  contextAlloc(num: number): number {
    if (!Number.isSafeInteger(num) || num <= 0) {
      throw new RangeError(`dma_fence_context_alloc: cannot allocate ${num} contexts`);
    }
    const first = this.contextCounter;
    this.contextCounter += num;
    return first;
  }

  /** `dma_fence_get_stub`: a new reference to the domain's always-signaled stub fence (context 0, seqno 0). */
  getStub(): DmaFence {
    if (this.stub === undefined) {
      const stub = new DmaFence(this, stubOps, 0, 0);
      stub.enableSwSignaling();
      stub.signal();
      this.stub = stub;
    }
    return this.stub.get();
  }

  /** `dma_fence_allocate_private_stub`: a new fence of its own, already signaled at `timestamp` (ns). */
  allocatePrivateStub(timestamp: number): DmaFence {
    const fence = new DmaFence(this, stubOps, 0, 0);
    fence.enableSwSignaling();
    fence.signalTimestamp(timestamp);
    return fence;
  }

  /** Next fence id, for {@link DmaFence.id}. */
  nextFenceId(): number {
    this.fenceIds += 1;
    return this.fenceIds;
  }

  /** Next default name for a reservation object. */
  nextResvName(): string {
    this.resvIds += 1;
    return `resv${this.resvIds}`;
  }
}
