import type { DmaMapping } from '@sharedbuf/dma-mapping';
import type { IommuCore } from '@sharedbuf/iommu';
import {
  type Device,
  EventBus,
  fail,
  type KResult,
  ok,
  type Platform,
  type Process,
} from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import {
  type AttacherConstraints,
  type BackingPlan,
  type ConstraintExtras,
  combineConstraints,
  constraintsFromDevice,
  type PlanOptions,
  planBacking,
  unconstrainedAttacher,
} from '../constraints/index.js';
import { FenceDomain } from '../fence/index.js';
import { defaultHeaps, type HeapRegistry } from '../heaps/index.js';
import { DmaResv } from '../resv/index.js';
import { DmaBuf, type ExportOptions } from './dma-buf.js';
import type { DmaBufContext, HeapSource } from './dma-buf-context.js';
import type { DmaBufEvents } from './dma-buf-events.js';
import { DmaBufFdTable } from './fd-table.js';

/** How the dma-buf core of a machine is wired. */
export interface DmaBufCoreOptions {
  readonly platform: Platform;
  readonly dma: DmaMapping;
  /** The IOMMU core, to read each device's IOMMU aperture. */
  readonly iommu?: IommuCore;
  /** The heaps to choose from; `defaultHeaps(platform)` by default. */
  readonly heaps?: HeapRegistry;
  /** Fence contexts and the clock waits run on; one on the platform's clock by default. */
  readonly fences?: FenceDomain;
}

/** One device a pipeline author plans for, with the extras its driver would add. */
export interface PlannedAttacher {
  readonly device: Device;
  readonly constraints?: ConstraintExtras;
}

/**
 * The dma-buf core of one machine (drivers/dma-buf/dma-buf.c) with the model's negotiating exporter:
 * exports buffers, keeps per-process descriptor tables, and answers the planner's question — what
 * would a buffer for these devices look like, from which heap — without allocating.
 */
export class DmaBufCore {
  readonly bus = new EventBus<DmaBufEvents>('dma-buf');
  readonly fences: FenceDomain;
  readonly heaps: HeapRegistry;
  private readonly ctx: DmaBufContext;
  private readonly tables = new Map<number, DmaBufFdTable>();
  private nextId = 1;

  constructor(private readonly options: DmaBufCoreOptions) {
    const { platform, dma } = options;
    this.fences = options.fences ?? new FenceDomain(platform.clock);
    this.heaps = options.heaps ?? defaultHeaps(platform);
    const swiotlb = dma.options.swiotlb;
    const planOptions: PlanOptions = swiotlb
      ? { bouncePool: { bytes: swiotlb.end - swiotlb.start, maxAddress: swiotlb.end - 1 } }
      : {};
    const heaps: HeapSource = {
      list: () => this.heaps.list(),
      allocate: (plan) => {
        const heap = this.heaps.get(plan.heap);
        return E.isLeft(heap) ? heap : heap.right.allocate(plan);
      },
    };
    this.ctx = {
      platform,
      dma,
      heaps,
      bus: this.bus,
      bouncePool: swiotlb?.start,
      planOptions,
      constraintsFor: (device, extras) => this.constraintsFor(device, extras),
      exporterConstraints: (o) =>
        withExtras(unconstrainedAttacher(`exporter:${o.name}`), o.constraints ?? {}),
    };
  }

  /**
   * Exports a buffer (`dma_buf_export`) with one reference; nothing is allocated until the first map
   * (or CPU access). EINVAL for a size that is not a positive integer.
   */
  export(options: ExportOptions): KResult<DmaBuf> {
    if (!Number.isSafeInteger(options.size) || options.size <= 0) {
      return fail('EINVAL', `dma-buf ${options.name}: size ${options.size} is not a positive integer`);
    }
    const id = this.nextId++;
    const buf = new DmaBuf(this.ctx, id, options, new DmaResv(this.fences, options.name));
    this.bus.emit('export', { buf: id, name: options.name, size: options.size });
    return ok(buf);
  }

  /**
   * The planner: the backing a buffer of `size` shared by these devices would get, and why — or the
   * conflict certificate — without allocating anything.
   */
  plan(
    size: number,
    attachers: readonly PlannedAttacher[],
    exporter: ConstraintExtras = {},
  ): KResult<BackingPlan> {
    const list = attachers.map((a) => this.constraintsFor(a.device, a.constraints));
    const all =
      Object.keys(exporter).length > 0
        ? [withExtras(unconstrainedAttacher('exporter'), exporter), ...list]
        : list;
    return planBacking(size, combineConstraints(all), this.heaps.list(), this.ctx.planOptions);
  }

  /** The dma-buf descriptor table of a process. */
  fdTable(process: Process): DmaBufFdTable {
    let table = this.tables.get(process.pid);
    if (table === undefined) {
      table = new DmaBufFdTable(process.pid);
      this.tables.set(process.pid, table);
    }
    return table;
  }

  /**
   * The constraints a device implies: its masks, bus limit and range offset, its `dma_parms` (with
   * the RFC's `max_segment_count`), coherency, and whether its DMA ops are IOMMU-backed (then
   * contiguity is judged in IOVA space and physical placement is free), tightened by `extras`.
   */
  constraintsFor(device: Device, extras: ConstraintExtras = {}): AttacherConstraints {
    const behindIommu = this.options.dma.opsKind(device) === 'iommu';
    const domain = behindIommu ? this.options.iommu?.domainOf(device) : undefined;
    const count = device.dmaParms.maxSegmentCount;
    return constraintsFromDevice(
      {
        name: device.name,
        dmaMaskBits: device.dmaMask.bits,
        busDmaLimit: device.busDmaLimit,
        dmaRangeOffset: device.dmaRangeOffset,
        dmaParms: device.dmaParms,
        coherent: device.coherent,
        behindIommu,
        ...(domain
          ? { iommuAperture: { start: domain.geometry.apertureStart, end: domain.geometry.apertureEnd } }
          : {}),
        ...(Number.isFinite(count) ? { maxSegmentCount: count } : {}),
      },
      extras,
    );
  }
}

/** An exporter's own constraints as a pseudo-attacher that only carries its extras. */
const withExtras = (c: AttacherConstraints, extras: ConstraintExtras): AttacherConstraints => ({
  ...c,
  ...(extras.permittedHeaps ? { permittedHeaps: extras.permittedHeaps } : {}),
  ...(extras.protected !== undefined ? { protected: extras.protected } : {}),
  ...(extras.alignment ? { alignment: extras.alignment } : {}),
});
