import {
  type DmaBuf,
  DmaFence,
  type DmaFenceOps,
  DmaResvUsage,
  type DmaResvUsageName,
  dmaResvUsageName,
  type FenceDomain,
} from '@sharedbuf/dma-buf';
import { unwrap } from '@sharedbuf/platform';

/** How long any wait may take before the example calls it a hang: one simulated second. */
const WAIT_TIMEOUT_NS = 1_000_000_000;

/** One fence a job waited for before it started. */
export interface FenceWaitRecord {
  /** `device#seqno`. */
  readonly fence: string;
  /** The buffer whose reservation object held it, and as what. */
  readonly buffer: string;
  readonly usage: DmaResvUsageName;
  /** When it signalled (simulated ns). */
  readonly signalledAt: number;
}

/** One job a device ran, as the timeline shows it. */
export interface JobRecord {
  /** The job's fence, `device#seqno`. */
  readonly fence: string;
  readonly device: string;
  /** `capture`, `process`, `encode`, `scanout`, `read-back`. */
  readonly what: string;
  readonly frame: number;
  readonly reads: readonly string[];
  readonly writes: readonly string[];
  /** Every fence of the buffers' reservation objects the job was ordered after. */
  readonly waitedFor: readonly FenceWaitRecord[];
  /** When the driver queued it, after its waits (ns). */
  readonly submitted: number;
  /** When the device began it: the submission, or later if the device was still busy (ns). */
  readonly start: number;
  /** When it completed and its fence signalled (ns). */
  readonly end: number;
}

/** What a job does. */
export interface JobSpec {
  readonly what: string;
  readonly frame: number;
  /** Buffers the device reads: the job waits for their writers and publishes a READ fence. */
  readonly reads: readonly DmaBuf[];
  /** Buffers it writes: the job waits for their readers and writers and publishes a WRITE fence. */
  readonly writes: readonly DmaBuf[];
  readonly durationNs: number;
  /** The device's DMA, run at the job's completion time, just before its fence signals. */
  readonly work: () => void;
}

/** Publishes `fence` in a reservation object (`dma_resv_lock`, `reserve_fences`, `add_fence`, unlock). */
const publish = (buf: DmaBuf, fence: DmaFence, usage: DmaResvUsage): void => {
  unwrap(buf.resv.lock());
  buf.resv.reserveFences(1);
  buf.resv.addFence(fence, usage);
  buf.resv.unlock();
};

/**
 * Waits, on the simulated clock, for every fence of `buf` up to `usage` (`dma_resv_wait_timeout`),
 * and returns what it waited for. A wait that times out means the example scheduled a job nothing
 * can complete — a bug — and throws.
 */
export const awaitBuffer = (buf: DmaBuf, usage: DmaResvUsage): FenceWaitRecord[] => {
  unwrap(buf.resv.lock());
  const held = buf.resv.fences(usage).map((e) => ({ fence: e.fence.get(), usage: e.usage }));
  buf.resv.unlock();
  if (buf.resv.waitTimeout(usage, WAIT_TIMEOUT_NS) === 0) {
    throw new Error(`${buf.name}: its fences did not signal within ${WAIT_TIMEOUT_NS} ns`);
  }
  const records = held.map(({ fence, usage: u }) => ({
    fence: `${fence.driverName}#${fence.seqno}`,
    buffer: buf.name,
    usage: dmaResvUsageName(u),
    signalledAt: fence.timestamp ?? Number.NaN,
  }));
  for (const h of held) h.fence.put();
  return records;
};

/**
 * One device's command queue with its own fence timeline (`dma_fence_context_alloc`): jobs run one
 * after the other, each ordered after the fences already on the buffers it touches (implicit
 * synchronization through the reservation objects, as DRM schedulers do with
 * `dma_resv_usage_rw`), and each completion signalled by a fence from a clock timer.
 */
export class DeviceEngine {
  private readonly context: number;
  private readonly ops: DmaFenceOps;
  private seqno = 0;
  private busyUntil = 0;

  constructor(
    readonly device: string,
    private readonly domain: FenceDomain,
    private readonly log: JobRecord[],
  ) {
    this.context = domain.contextAlloc(1);
    this.ops = { getDriverName: () => device, getTimelineName: () => `${device}-queue` };
  }

  /**
   * Queues a job: waits for the readers and writers it must follow, creates its fence, publishes it
   * on every buffer it touches, and arms the timer that does the DMA and signals the fence.
   */
  submit(job: JobSpec): JobRecord {
    const waitedFor = [
      ...job.reads.flatMap((b) => awaitBuffer(b, DmaResvUsage.WRITE)),
      ...job.writes.flatMap((b) => awaitBuffer(b, DmaResvUsage.READ)),
    ];
    const clock = this.domain.clock;
    const submitted = clock.now();
    const start = Math.max(submitted, this.busyUntil);
    const end = start + job.durationNs;
    this.seqno += 1;
    const fence = new DmaFence(this.domain, this.ops, this.context, this.seqno);
    for (const b of job.reads) publish(b, fence, DmaResvUsage.READ);
    for (const b of job.writes) publish(b, fence, DmaResvUsage.WRITE);
    clock.at(end, () => {
      job.work();
      unwrap(fence.signal());
      fence.put();
    });
    this.busyUntil = end;
    const record: JobRecord = {
      fence: `${this.device}#${this.seqno}`,
      device: this.device,
      what: job.what,
      frame: job.frame,
      reads: job.reads.map((b) => b.name),
      writes: job.writes.map((b) => b.name),
      waitedFor,
      submitted,
      start,
      end,
    };
    this.log.push(record);
    return record;
  }
}
