import type { DmaBufCore } from '@sharedbuf/dma-buf';
import { DmaAttr, type DmaMapping } from '@sharedbuf/dma-mapping';
import type { IommuCore } from '@sharedbuf/iommu';
import {
  alignUp,
  type Device,
  EventBus,
  fail,
  type KResult,
  ok,
  PAGE_SIZE,
  type Platform,
  type Process,
} from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { addWork, CacheMeter, type CacheWork } from './cache-meter.js';
import { DEFAULT_GPU_COSTS, type GpuCosts, perKiB } from './costs.js';
import { type GpuBo, GpuContext, type GpuImport } from './gpu-context.js';
import { GpuEngine } from './gpu-engine.js';
import type { GpuEvents } from './gpu-events.js';
import { GpuFaultLog, type PasidOwner } from './gpu-faults.js';
import {
  DESCRIPTOR_SIZE,
  encodeDescriptor,
  type GpuJob,
  type JobRange,
  jobProblem,
  jobRanges,
} from './gpu-job.js';
import { GpuRing } from './gpu-ring.js';
import type { JobReport } from './job-report.js';
import { syncUserRangesForCpu, syncUserRangesForDevice } from './user-cache-sync.js';

/** What the driver is given at probe. */
export interface GpuDriverDeps {
  readonly platform: Platform;
  readonly iommu: IommuCore;
  readonly dma: DmaMapping;
  readonly dmabuf: DmaBufCore;
  /** The GPU, behind an IOMMU instance that supports SVA. */
  readonly gpu: Device;
  readonly costs?: GpuCosts;
}

/**
 * A driver for a non-coherent GPU with one address space per process (seed 002), built on SVA: each
 * open binds the GPU to the process's mm (`iommu_sva_bind_device`), and the PASID of that binding
 * tags every access of the process's jobs, so the SMMU walks the process's own page table — the bus
 * address of user memory is its user address, untouched pages fault in on the GPU's first access,
 * munmap revokes the GPU's access through the mmu notifier, and one process's jobs cannot name
 * another's memory.
 *
 * Its own memory never gets a kernel mapping (`DMA_ATTR_NO_KERNEL_MAPPING`), and its cache flushes
 * happen at submit, not when memory is mapped: the ring is mapped with `DMA_ATTR_SKIP_CPU_SYNC` and
 * flushed slot by slot, and user memory is maintained for exactly the ranges each job touches.
 *
 * Jobs run synchronously: `submit` returns when the GPU has finished or faulted, with the simulated
 * clock advanced by the {@link GpuCosts}.
 */
export class GpuDriver {
  /** Served and refused GPU faults, attributed to processes. */
  readonly faults: GpuFaultLog;
  /** The driver's events (trace source `gpu:<device>`). */
  readonly bus: EventBus<GpuEvents>;
  /** Cache maintenance done while mapping the ring at probe (none: the flushes come at submit). */
  readonly ringMapWork: CacheWork;
  readonly costs: GpuCosts;
  private readonly engine: GpuEngine;
  private readonly meter: CacheMeter;
  private readonly byPasid = new Map<number, GpuContext>();
  private readonly descriptor = new Uint8Array(DESCRIPTOR_SIZE);
  private nextJob = 1;

  private constructor(
    private readonly deps: GpuDriverDeps,
    /** The command ring. */
    readonly ring: GpuRing,
    meter: CacheMeter,
    ringMapWork: CacheWork,
  ) {
    this.costs = deps.costs ?? DEFAULT_GPU_COSTS;
    this.meter = meter;
    this.ringMapWork = ringMapWork;
    this.engine = new GpuEngine(deps.gpu);
    this.bus = new EventBus<GpuEvents>(`gpu:${deps.gpu.name}`);
    this.faults = new GpuFaultLog(deps.platform, (pasid) => this.ownerOf(pasid));
  }

  /** The driver's probe: maps the command ring. Errors: the ring's (ENOMEM, the DMA API's). */
  static probe(deps: GpuDriverDeps): KResult<GpuDriver> {
    const meter = new CacheMeter(deps.platform);
    const { value: ring, work } = meter.measure(() => GpuRing.create(deps.platform, deps.dma, deps.gpu));
    return E.isLeft(ring) ? ring : ok(new GpuDriver(deps, ring.right, meter, work));
  }

  /** The GPU device. */
  get gpu(): Device {
    return this.deps.gpu;
  }

  /** The open contexts, in PASID order. */
  contexts(): GpuContext[] {
    return [...this.byPasid.values()].sort((a, b) => a.pasid - b.pasid);
  }

  /**
   * `open()` of the GPU node: binds the GPU to the process's mm and installs the driver's fault
   * handler on the process's SVA domain. Errors: those of `iommu_sva_bind_device` (ENODEV,
   * EOPNOTSUPP, EINVAL for an exited process, ENOSPC); EBUSY when the process already has it open.
   */
  open(process: Process): KResult<GpuContext> {
    const pasid = this.deps.iommu.sva.pasidOf(process.mm);
    if (pasid >= 0 && this.byPasid.has(pasid))
      return fail('EBUSY', `${process.name} (pid ${process.pid}) already has the GPU open`);
    const bound = this.deps.iommu.sva.bind(this.gpu, process.mm);
    if (E.isLeft(bound)) return bound;
    const ctx = new GpuContext(process, bound.right);
    this.deps.iommu.setFaultHandler(ctx.sva.domain, this.faults.handler);
    this.byPasid.set(ctx.pasid, ctx);
    this.bus.emit('open', { pid: process.pid, pasid: ctx.pasid, domain: ctx.sva.domain.id });
    return ok(ctx);
  }

  /**
   * A buffer object of `size` bytes mapped into the process at `va` (MAP_FIXED_NOREPLACE): driver
   * memory without a kernel mapping, write-combined for the CPU, reached by the GPU at the same
   * address. Errors: EBADF for a closed context; the allocation's (ENOMEM); mmap's (EEXIST, EINVAL,
   * EPERM) — then the allocation is freed again.
   */
  createBo(ctx: GpuContext, name: string, size: number, va: number): KResult<GpuBo> {
    if (ctx.closed) return this.closedContext(ctx);
    const attrs = DmaAttr.NO_KERNEL_MAPPING | DmaAttr.WRITE_COMBINE;
    const allocated = this.deps.dma.dmaAllocAttrs(this.gpu, alignUp(size, PAGE_SIZE), attrs);
    if (E.isLeft(allocated)) return allocated;
    const allocation = allocated.right;
    const pfns: number[] = [];
    for (const c of allocation.chunks)
      for (let off = 0; off < c.length; off += PAGE_SIZE) pfns.push((c.phys + off) / PAGE_SIZE);
    const mapped = ctx.process.mm.mmap({
      addr: va,
      noReplace: true,
      length: allocation.size,
      prot: { read: true, write: true },
      backing: { kind: 'pfns', pfns, attr: 'write-combine' },
      name: `gpu-bo:${name}`,
    });
    if (E.isLeft(mapped)) {
      this.deps.dma.dmaFreeAttrs(allocation);
      return mapped;
    }
    const bo: GpuBo = { name, va, size: allocation.size, allocation };
    ctx.bos.push(bo);
    this.bus.emit('bo-create', {
      pid: ctx.process.pid,
      name,
      va,
      size: bo.size,
      kernelIova: allocation.dmaAddr,
    });
    return ok(bo);
  }

  /**
   * Imports the dma-buf behind the process's descriptor `fd` into its GPU address space at `va`,
   * holding a reference until close. Errors: EBADF for a closed context or a bad fd; those of
   * `DmaBuf.mmap` at a fixed address (EEXIST when something is mapped there; the reference is dropped again).
   */
  importDmaBuf(ctx: GpuContext, fd: number, va: number, writable = false): KResult<GpuImport> {
    if (ctx.closed) return this.closedContext(ctx);
    const got = this.deps.dmabuf.fdTable(ctx.process).get(fd);
    if (E.isLeft(got)) return got;
    const buf = got.right;
    const mapped = buf.mmap(ctx.process, {
      addr: va,
      noReplace: true,
      prot: { read: true, write: writable },
    });
    if (E.isLeft(mapped)) {
      buf.put();
      return mapped;
    }
    const imported: GpuImport = { buf, fd, va, length: alignUp(buf.size, PAGE_SIZE), writable };
    ctx.imports.push(imported);
    this.bus.emit('import', {
      pid: ctx.process.pid,
      buffer: buf.name,
      fd,
      va,
      length: imported.length,
      writable,
    });
    return ok(imported);
  }

  /**
   * The submit ioctl: cache maintenance for the job's cached user ranges, the descriptor written and
   * flushed into the ring, the GPU run, and the completion invalidate of what it wrote. A job the
   * SMMU stops is not an error of the call: its report says `faulted` and the fault is attributed
   * to this process. Errors: EBADF for a closed context; EINVAL for a malformed job.
   */
  submit(ctx: GpuContext, label: string, job: GpuJob): KResult<JobReport> {
    if (ctx.closed) return this.closedContext(ctx);
    const problem = jobProblem(job);
    if (problem !== undefined) return fail('EINVAL', `submit: ${problem}`, { pid: ctx.process.pid });
    const clock = this.deps.platform.clock;
    const id = this.nextJob++;
    const ranges = jobRanges(job);
    const submittedAt = clock.now();
    const queued = this.flushAndQueue(ctx, job, id, ranges);
    if (E.isLeft(queued)) return queued;
    const startedAt = clock.now();
    const run = this.runOnGpu(ctx, id, queued.right.slot);
    const completion = this.syncForCpu(ctx, ranges);
    if (E.isLeft(completion)) return completion;
    const { exec, pageRequests, refusedFaults } = run;
    this.bus.emit('complete', {
      job: id,
      pid: ctx.process.pid,
      status: exec.status,
      pageRequests,
      refusedFaults,
    });
    return ok({
      id,
      label,
      pid: ctx.process.pid,
      process: ctx.process.name,
      pasid: ctx.pasid,
      job,
      status: exec.status,
      result: exec.result,
      error: exec.error === undefined ? undefined : { code: exec.error.code, message: exec.error.message },
      bytesRead: exec.bytesRead,
      bytesWritten: exec.bytesWritten,
      pageRequests,
      refusedFaults,
      submitCache: queued.right.work,
      completionCache: completion.right.work,
      submittedAt,
      startedAt,
      completedAt: clock.now(),
      time: {
        submitSync: queued.right.syncNs,
        submit: this.costs.submitNs,
        start: this.costs.jobStartNs,
        dma: run.dmaNs,
        pageRequests: run.pageRequestNs,
        abort: run.abortNs,
        completionSync: completion.right.ns,
      },
    });
  }

  /**
   * `release()` of the GPU file: unmaps and frees the process's buffer objects, drops its imports
   * and unbinds the GPU from its mm. Errors: EBADF when already closed; the first error of a
   * teardown step (the rest is still torn down).
   */
  close(ctx: GpuContext): KResult<void> {
    if (ctx.closed) return this.closedContext(ctx);
    const mm = ctx.process.mm;
    const steps: KResult<void>[] = [];
    for (const imp of ctx.imports) steps.push(mm.munmap(imp.va, imp.length), imp.buf.put());
    for (const bo of ctx.bos)
      steps.push(mm.munmap(bo.va, bo.size), this.deps.dma.dmaFreeAttrs(bo.allocation));
    this.deps.iommu.setFaultHandler(ctx.sva.domain, undefined);
    steps.push(this.deps.iommu.sva.unbind(ctx.sva));
    this.byPasid.delete(ctx.pasid);
    ctx.closed = true;
    this.bus.emit('close', { pid: ctx.process.pid, pasid: ctx.pasid });
    return steps.find(E.isLeft) ?? ok(undefined);
  }

  /** The driver's remove: closes every context and frees the ring. Errors: the first teardown error. */
  remove(): KResult<void> {
    const steps = this.contexts().map((ctx) => this.close(ctx));
    steps.push(this.ring.destroy());
    return steps.find(E.isLeft) ?? ok(undefined);
  }

  /** Submit-time flushes of the user ranges, then the descriptor into the ring and the doorbell. */
  private flushAndQueue(
    ctx: GpuContext,
    job: GpuJob,
    id: number,
    ranges: readonly JobRange[],
  ): KResult<{ slot: number; work: CacheWork; syncNs: number }> {
    const { platform } = this.deps;
    const user = this.meter.measure(() => syncUserRangesForDevice(platform, ctx.process.mm, ranges));
    if (E.isLeft(user.value)) return user.value;
    const syncNs = perKiB(user.work.bytes, this.costs.cacheMaintenanceNsPerKiB);
    platform.clock.advance(syncNs);
    const slot = (id - 1) % this.ring.slots;
    encodeDescriptor(job, ctx.pasid, id, this.descriptor);
    const ring = this.meter.measure(() => this.ring.write(slot, this.descriptor));
    if (E.isLeft(ring.value)) return ring.value;
    platform.clock.advance(this.costs.submitNs);
    this.bus.emit('submit', { job: id, pid: ctx.process.pid, pasid: ctx.pasid, kind: job.kind, slot });
    return ok({ slot, work: addWork(user.work, ring.work), syncNs });
  }

  /** The GPU runs the descriptor in `slot`; the clock advances by what it did. */
  private runOnGpu(ctx: GpuContext, id: number, slot: number) {
    const servedBefore = this.faults.served.length;
    const refusedBefore = this.faults.refused.length;
    const exec = this.faults.during(id, ctx.pasid, () => this.engine.execute(this.ring.slotAddr(slot)));
    const pageRequests = this.faults.served.length - servedBefore;
    const dmaNs = perKiB(exec.bytesRead + exec.bytesWritten, this.costs.dmaNsPerKiB);
    const pageRequestNs = pageRequests * this.costs.pageRequestNs;
    const abortNs = exec.status === 'faulted' ? this.costs.faultAbortNs : 0;
    this.deps.platform.clock.advance(this.costs.jobStartNs + dmaNs + pageRequestNs + abortNs);
    const refusedFaults = this.faults.refused.length - refusedBefore;
    return { exec, pageRequests, refusedFaults, dmaNs, pageRequestNs, abortNs };
  }

  /** Completion: what the GPU wrote is invalidated for the CPU. */
  private syncForCpu(ctx: GpuContext, ranges: readonly JobRange[]): KResult<{ work: CacheWork; ns: number }> {
    const { platform } = this.deps;
    const done = this.meter.measure(() => syncUserRangesForCpu(platform, ctx.process.mm, ranges));
    if (E.isLeft(done.value)) return done.value;
    const ns = perKiB(done.work.bytes, this.costs.cacheMaintenanceNsPerKiB);
    platform.clock.advance(ns);
    return ok({ work: done.work, ns });
  }

  private ownerOf(pasid: number): PasidOwner | undefined {
    const ctx = this.byPasid.get(pasid);
    return ctx === undefined ? undefined : { pid: ctx.process.pid, name: ctx.process.name };
  }

  private closedContext(ctx: GpuContext): KResult<never> {
    return fail('EBADF', `the GPU file of ${ctx.process.name} (pid ${ctx.process.pid}) is closed`);
  }
}
