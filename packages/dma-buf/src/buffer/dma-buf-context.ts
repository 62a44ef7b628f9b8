import type { DmaMapping } from '@sharedbuf/dma-mapping';
import type { Device, EventBus, KResult, Platform } from '@sharedbuf/platform';
import type {
  AttacherConstraints,
  BackingPlan,
  ConstraintExtras,
  HeapCapabilities,
  PlanOptions,
} from '../constraints/index.js';
import type { Backing } from '../heaps/index.js';
import type { ExportOptions } from './dma-buf.js';
import type { DmaBufEvents } from './dma-buf-events.js';

/** The heaps an exporter chooses from, and how it allocates from the chosen one. */
export interface HeapSource {
  /** What each heap can offer now, for the planner. */
  list(): readonly HeapCapabilities[];
  /** Allocates the planned backing from the chosen heap; the heap's errors (e.g. ENOMEM) pass through. */
  allocate(plan: BackingPlan): KResult<Backing>;
}

/** What a buffer needs from the dma-buf core that exported it. */
export interface DmaBufContext {
  readonly platform: Platform;
  readonly dma: DmaMapping;
  readonly heaps: HeapSource;
  readonly bus: EventBus<DmaBufEvents>;
  /** Physical start of the swiotlb pool (a device that accepts bouncing may be bounced), if any. */
  readonly bouncePool: number | undefined;
  readonly planOptions: PlanOptions;
  /** The constraints a device implies, tightened by the caller's extras. */
  constraintsFor(device: Device, extras: ConstraintExtras | undefined): AttacherConstraints;
  /** The exporter's own constraints, as a pseudo-attacher. */
  exporterConstraints(options: ExportOptions): AttacherConstraints;
}
