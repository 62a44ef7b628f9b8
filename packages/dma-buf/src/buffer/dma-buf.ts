import {
  CpuView,
  DmaAttr,
  DmaDirection,
  dmaCapable,
  type SgTable,
  sgAllocTableFromRanges,
  sgDmaSegments,
} from '@sharedbuf/dma-mapping';
import {
  type Device,
  fail,
  hex,
  type KResult,
  type MmProt,
  ok,
  PAGE_SIZE,
  type Process,
  unwrap,
} from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import {
  type AttacherConstraints,
  attachmentEntries,
  type BackingPlan,
  type CombinedConstraints,
  type ConflictCertificate,
  ConstraintSet,
  type ConstraintValue,
  combineConstraints,
  explainConstraints,
  planBacking,
  satisfies,
} from '../constraints/index.js';
import type { Backing } from '../heaps/index.js';
import { type DmaResv, DmaResvUsage } from '../resv/index.js';
import { backingFits } from './backing-fit.js';
import { DmaBufAttachment } from './dma-buf-attachment.js';
import type { DmaBufContext } from './dma-buf-context.js';
import type { DmaBufImporterOps } from './importer.js';
import { copyBacking } from './migrate.js';

/** Options of an attach. */
export interface AttachOptions {
  /** A dynamic importer (`dma_buf_dynamic_attach`); without one the importer is static and pins on map. */
  readonly importer?: DmaBufImporterOps;
  /** Constraints the caller adds (permitted heaps, protected memory, one range, no bouncing, …). */
  readonly constraints?: import('../constraints/index.js').ConstraintExtras;
  /** The importer takes peer-to-peer addresses (`attach->peer2peer`). */
  readonly peer2peer?: boolean;
}

/** Options of {@link DmaBuf.mmap}. */
export interface DmaBufMmapOptions {
  /** Map at this user address (page aligned), replacing what is there unless `noReplace`. */
  readonly addr?: number;
  readonly noReplace?: boolean;
  /** Protection; read/write by default. */
  readonly prot?: MmProt;
}

/** Options of an export. */
export interface ExportOptions {
  readonly name: string;
  readonly size: number;
  /** The exporter may move the backing for a late, stricter attacher (default true). */
  readonly allowMigration?: boolean;
  /** A kernel CPU mapping may exist (`vmap`); false models seed 002's "no permanent kernel mapping". */
  readonly kernelMapping?: boolean;
  /** Constraints of the exporter itself (e.g. permitted heaps). */
  readonly constraints?: import('../constraints/index.js').ConstraintExtras;
  /** The exporter's release hook (`dma_buf_ops.release`), run when the last reference goes. */
  readonly release?: (buf: DmaBuf) => void;
}

const OK: KResult<void> = ok(undefined);
/** How long a migration waits for work in flight on the buffer (simulated), like a bounded fence wait. */
const MIGRATION_WAIT_NS = 1_000_000_000;

/**
 * A shared buffer (`struct dma_buf`) exported by the model's negotiating exporter (the seed-002 RFC,
 * built as proposed and extended): allocation is deferred until the first `mapAttachment`, when every
 * attachment's constraints are combined and the backing chosen to satisfy them all. A late attacher
 * the backing does not satisfy makes the exporter migrate it — when every importer is dynamic and
 * migration is allowed — or is refused with EBUSY and a conflict certificate, changing nothing.
 */
export class DmaBuf {
  private refs = 1;
  private released = false;
  private readonly set = new ConstraintSet();
  private readonly attached: DmaBufAttachment[] = [];
  private readonly invalidated = new WeakSet<SgTable>();
  private readonly mmaps: { process: Process; va: number; length: number; prot: MmProt }[] = [];
  private current: { backing: Backing; plan: BackingPlan | undefined } | undefined;
  private nextAttachment = 0;

  constructor(
    private readonly ctx: DmaBufContext,
    readonly id: number,
    readonly options: ExportOptions,
    /** The buffer's reservation object: fences order producers and consumers. */
    readonly resv: DmaResv,
  ) {
    if (options.constraints) this.exporterConstraints = ctx.exporterConstraints(options);
  }

  private readonly exporterConstraints: AttacherConstraints | undefined;

  /** The name given at export (`dma_buf->name`). */
  get name(): string {
    return this.options.name;
  }

  /** The buffer's size in bytes (`dma_buf->size`). */
  get size(): number {
    return this.options.size;
  }

  /** The current backing, once allocated. */
  get backing(): Backing | undefined {
    return this.current?.backing;
  }

  /** The plan that chose the current backing, with its reasons. */
  get plan(): BackingPlan | undefined {
    return this.current?.plan;
  }

  /** Current attachments. */
  get attachments(): readonly DmaBufAttachment[] {
    return this.attached;
  }

  /** References held (file count). */
  get refcount(): number {
    return this.refs;
  }

  /** The combination of every current attachment's constraints (the RFC's `calc_constraints`). */
  combined(): CombinedConstraints {
    return this.set.combined;
  }

  /** The combined constraints in words. */
  explain(): string[] {
    return explainConstraints(this.set.combined);
  }

  /** `get_dma_buf`: one more reference. EBADF after release. */
  get(): KResult<this> {
    if (this.released) return this.gone();
    this.refs += 1;
    return ok(this);
  }

  /** `dma_buf_put`: drops a reference; the last one releases the buffer. EBADF after release. */
  put(): KResult<void> {
    if (this.released) return this.gone();
    this.refs -= 1;
    if (this.refs === 0) this.release();
    return OK;
  }

  /**
   * `dma_buf_attach` / `dma_buf_dynamic_attach`. Before the backing exists the attacher only joins
   * the negotiation. Afterwards it is accepted if the backing already serves it, the backing is
   * migrated if every importer is dynamic and the exporter allows it (after the fences on the
   * buffer have signalled: the move waits for work in flight), and otherwise it is refused
   * with EBUSY and a certificate naming the field — nothing changes.
   */
  attach(device: Device, opts: AttachOptions = {}): KResult<DmaBufAttachment> {
    if (this.released) return this.gone();
    const c = this.ctx.constraintsFor(device, opts.constraints);
    const att = new DmaBufAttachment(this.nextAttachment, device, c, opts.importer, opts.peer2peer ?? false);
    const late = this.current !== undefined;
    if (late) {
      const fit = backingFits(this.current!.backing.runs, c, this.ctx.bouncePool, this.forcedBounce(device));
      if (!fit.ok) {
        const moved = this.migrateFor(att, fit.field, fit.message);
        if (E.isLeft(moved)) return moved;
      }
    }
    this.nextAttachment += 1;
    this.set.add(c);
    this.attached.push(att);
    if (this.ctx.bus.active) {
      this.ctx.bus.emit('attach', {
        buf: this.id,
        device: device.name,
        dynamic: att.dynamic,
        late,
        constraints: this.explain(),
      });
    }
    return ok(att);
  }

  /** `dma_buf_detach`: unmaps what the attachment still has mapped and recomputes the combination (the RFC's recalc). */
  detach(att: DmaBufAttachment): KResult<void> {
    const bad = this.checkAttachment(att);
    if (bad) return bad;
    if (att.sgt) this.dropMapping(att);
    att.detached = true;
    this.attached.splice(this.attached.indexOf(att), 1);
    this.set.remove(att.constraints);
    if (this.ctx.bus.active) {
      this.ctx.bus.emit('detach', { buf: this.id, device: att.device.name, constraints: this.explain() });
    }
    return OK;
  }

  /**
   * `dma_buf_map_attachment`: the device's scatterlist of DMA addresses, through its own DMA ops (so
   * IOMMU remapping, bouncing and segment splitting are real). The first map of the buffer runs the
   * negotiation and allocates. Cached per attachment: mapping again in the same direction returns
   * the same table; another direction while mapped is EBUSY, as in drivers/dma-buf/dma-buf.c.
   */
  mapAttachment(att: DmaBufAttachment, dir: DmaDirection): KResult<SgTable> {
    const bad = this.checkAttachment(att);
    if (bad) return bad;
    if (att.sgt) {
      if (att.dir !== dir && att.dir !== DmaDirection.BIDIRECTIONAL) {
        return fail('EBUSY', `${att.device.name} already has this buffer mapped in another direction`);
      }
      this.ctx.bus.emit('map', {
        buf: this.id,
        device: att.device.name,
        dir,
        nents: att.sgt.nents,
        cached: true,
      });
      return ok(att.sgt);
    }
    const fresh = this.current === undefined;
    const backing = this.ensureBacking();
    if (E.isLeft(backing)) return backing;
    const mapped = this.mapFor(att, backing.right, dir);
    if (E.isLeft(mapped)) {
      if (fresh) this.dropBacking(); // a refused first map leaves the buffer unallocated, as before
      return mapped;
    }
    const sgt = mapped;
    att.sgt = sgt.right;
    att.dir = dir;
    att.pinned = !att.dynamic;
    this.ctx.bus.emit('map', {
      buf: this.id,
      device: att.device.name,
      dir,
      nents: sgt.right.nents,
      cached: false,
    });
    return ok(sgt.right);
  }

  /** `dma_buf_unmap_attachment`. EINVAL for a table that is not this attachment's live mapping. */
  unmapAttachment(att: DmaBufAttachment, sgt: SgTable, dir: DmaDirection): KResult<void> {
    const bad = this.checkAttachment(att);
    if (bad) return bad;
    if (this.invalidated.has(sgt)) return OK; // already torn down by a migration; the importer was told
    if (att.sgt !== sgt || att.dir !== dir) {
      return fail(
        'EINVAL',
        `${att.device.name}: that scatterlist is not this attachment's mapping in this direction`,
      );
    }
    this.dropMapping(att);
    this.ctx.bus.emit('unmap', { buf: this.id, device: att.device.name, dir });
    return OK;
  }

  /**
   * Builds and maps one attachment's table: entries cut for its path, mapped without CPU sync and
   * then synced for the device (the data reaches it; DMA debug does not mistake several devices
   * sharing the lines for overlapping streaming maps), an IOMMU mapping starting on the attacher's
   * alignment. A table that would break the attacher's constraints is never handed out.
   */
  private mapFor(att: DmaBufAttachment, backing: Backing, dir: DmaDirection): KResult<SgTable> {
    const { dma } = this.ctx;
    const c = att.constraints;
    // The DMA layer bounces what the device cannot reach (its own dma_capable test) or everything.
    const dev = att.device;
    const bounced =
      this.forcedBounce(dev) ||
      (!c.behindIommu && backing.runs.some((r) => !dmaCapable(dev, r.phys - dev.dmaRangeOffset, r.length)));
    const path = c.behindIommu ? 'iommu' : bounced ? 'bounce' : 'direct';
    const sgt = sgAllocTableFromRanges(undefined, attachmentEntries(backing.runs, c, path));
    if (E.isLeft(sgt)) return sgt;
    const mapped = dma.dmaMapSgtable(att.device, sgt.right, dir, DmaAttr.SKIP_CPU_SYNC, c.alignment);
    if (E.isLeft(mapped)) return mapped;
    const verdict = satisfies(sgDmaSegments(sgt.right), c);
    const synced = verdict.ok ? dma.dmaSyncSgtableForDevice(att.device, sgt.right, dir) : E.right(undefined);
    if (!verdict.ok || E.isLeft(synced)) {
      dma.dmaUnmapSgtable(att.device, sgt.right, dir, DmaAttr.SKIP_CPU_SYNC);
      if (E.isLeft(synced)) return synced;
      return fail(
        'EINVAL',
        `${att.device.name}: the mapping would break its ${verdict.ok ? '' : verdict.field} constraint: ${verdict.ok ? '' : verdict.message}`,
        {
          device: att.device.name,
          field: verdict.ok ? null : verdict.field,
        },
      );
    }
    return sgt;
  }

  /** Frees the backing (nobody has it mapped): the buffer is unallocated again. */
  private dropBacking(): void {
    unwrap(this.current!.backing.free());
    this.current = undefined;
  }

  /** Whether `sgt` was invalidated by a migration (its addresses no longer reach the buffer). */
  isInvalidated(sgt: SgTable): boolean {
    return this.invalidated.has(sgt);
  }

  /**
   * `dma_buf_begin_cpu_access`: the CPU takes the buffer from every mapped non-coherent device
   * (`dma_sync_sgtable_for_cpu`). Allocates the backing if nothing did yet.
   */
  beginCpuAccess(dir: DmaDirection): KResult<void> {
    return this.cpuAccess('begin', dir);
  }

  /** `dma_buf_end_cpu_access`: the devices get the buffer back (`dma_sync_sgtable_for_device`). */
  endCpuAccess(dir: DmaDirection): KResult<void> {
    return this.cpuAccess('end', dir);
  }

  /**
   * `dma_buf_vmap`: a CPU view of the whole buffer (cached). EOPNOTSUPP when the exporter keeps no
   * kernel mapping (seed 002).
   */
  vmap(): KResult<CpuView> {
    if (this.released) return this.gone();
    if (this.options.kernelMapping === false) {
      return fail('EOPNOTSUPP', `dma-buf ${this.name} has no kernel mapping (exported without one)`);
    }
    const backing = this.ensureBacking();
    if (E.isLeft(backing)) return backing;
    return ok(new CpuView(this.ctx.platform.cpu, backing.right.runs, 'cached'));
  }

  /**
   * `dma_buf_mmap`: maps the buffer's pages into a process and returns the user address — where the
   * mm chooses, or at `opts.addr` (MAP_FIXED; with `noReplace`, MAP_FIXED_NOREPLACE). A migration
   * later moves the mapping to the new pages. Errors as `mmap`.
   */
  mmap(process: Process, opts: DmaBufMmapOptions = {}): KResult<number> {
    if (this.released) return this.gone();
    const fresh = this.current === undefined;
    const backing = this.ensureBacking();
    if (E.isLeft(backing)) return backing;
    const length = Math.ceil(this.size / PAGE_SIZE) * PAGE_SIZE;
    const va = process.mm.mmap({
      length,
      prot: opts.prot ?? { read: true, write: true },
      backing: this.pfnBacking(backing.right),
      name: `dmabuf:${this.name}`,
      ...(opts.addr !== undefined
        ? { addr: opts.addr, fixed: true, noReplace: opts.noReplace ?? false }
        : {}),
    });
    if (E.isLeft(va)) {
      if (fresh) this.dropBacking();
      return va;
    }
    this.mmaps.push({ process, va: va.right, length, prot: opts.prot ?? { read: true, write: true } });
    this.ctx.bus.emit('mmap', { buf: this.id, pid: process.pid, va: va.right, length });
    return va;
  }

  private cpuAccess(op: 'begin' | 'end', dir: DmaDirection): KResult<void> {
    if (this.released) return this.gone();
    const backing = this.ensureBacking();
    if (E.isLeft(backing)) return backing;
    const synced: string[] = [];
    for (const att of this.attached) {
      if (att.sgt === undefined) continue; // coherent devices still need their bounce copies synced
      const r =
        op === 'begin'
          ? this.ctx.dma.dmaSyncSgtableForCpu(att.device, att.sgt, att.dir!)
          : this.ctx.dma.dmaSyncSgtableForDevice(att.device, att.sgt, att.dir!);
      if (E.isLeft(r)) return r;
      synced.push(att.device.name);
    }
    this.ctx.bus.emit('cpu-access', { buf: this.id, op, dir, synced });
    return OK;
  }

  /** Negotiates and allocates on first need (the RFC's deferred allocation). */
  private ensureBacking(): KResult<Backing> {
    if (this.current) return ok(this.current.backing);
    const constraints = this.allConstraints();
    const combined = combineConstraints(constraints);
    const planned = planBacking(this.size, combined, this.ctx.heaps.list(), this.ctx.planOptions);
    if (E.isLeft(planned)) {
      const cert = planned.left.detail.certificate as ConflictCertificate | undefined;
      this.ctx.bus.emit('negotiate-failed', {
        buf: this.id,
        attachers: combined.attachers.map((a) => a.attacher),
        code: planned.left.code,
        field: cert?.field ?? null,
        message: planned.left.message,
      });
      return planned;
    }
    const backing = this.ctx.heaps.allocate(planned.right);
    if (E.isLeft(backing)) return backing;
    this.current = { backing: backing.right, plan: planned.right };
    this.ctx.bus.emit('negotiate', {
      buf: this.id,
      attachers: combined.attachers.map((a) => a.attacher),
      constraints: explainConstraints(combined),
      heap: planned.right.heap,
      reasons: [...planned.right.reasons],
    });
    this.ctx.bus.emit('allocate', {
      buf: this.id,
      heap: backing.right.heap,
      runs: backing.right.runs.length,
      bytes: backing.right.size,
    });
    return ok(backing.right);
  }

  /**
   * Moves the backing so that `att` fits too: allowed only when every importer is dynamic and
   * nothing is pinned. New backing is planned for everyone including the newcomer and allocated
   * before anything changes; the data is copied, old mappings are torn down (IOVAs unmapped, tables
   * invalidated), importers get `move_notify`, user mappings are replaced, and the old backing is
   * freed — no byte lost, no mapping left pointing at freed memory.
   */
  private migrateFor(att: DmaBufAttachment, field: string, why: string): KResult<void> {
    const blocker = this.migrationBlocker();
    const device = att.device.name;
    if (blocker !== undefined) {
      return this.refuse(
        device,
        field,
        att.constraints,
        `${device} needs a different backing (${why}), but ${blocker}`,
      );
    }
    const constraints = [...this.allConstraints(), att.constraints];
    const combined = combineConstraints(constraints);
    const planned = planBacking(this.size, combined, this.ctx.heaps.list(), this.ctx.planOptions);
    if (E.isLeft(planned)) {
      const cert = planned.left.detail.certificate as ConflictCertificate | undefined;
      return this.refuse(
        device,
        cert?.field ?? field,
        att.constraints,
        `${device} cannot be served even by moving the buffer: ${planned.left.message}`,
        cert,
      );
    }
    const fresh = this.ctx.heaps.allocate(planned.right);
    if (E.isLeft(fresh))
      return this.refuse(
        device,
        field,
        att.constraints,
        `${device} needs new backing, but ${fresh.left.message}`,
      );
    if (!this.awaitIdle()) {
      unwrap(fresh.right.free());
      return this.refuse(
        device,
        field,
        att.constraints,
        `${device} needs new backing, but work on ${this.name} is still in flight: its fences did not signal within ${MIGRATION_WAIT_NS / 1e6} ms`,
      );
    }
    const old = this.current!.backing;
    copyBacking(this.ctx.platform, old, fresh.right);
    this.current = { backing: fresh.right, plan: planned.right };
    for (const a of this.attached) {
      if (a.sgt === undefined) continue;
      this.dropMapping(a, DmaAttr.SKIP_CPU_SYNC);
      this.ctx.bus.emit('move-notify', { buf: this.id, device: a.device.name });
      a.importer?.moveNotify(a);
    }
    this.remapUsers(fresh.right);
    unwrap(old.free());
    this.ctx.bus.emit('migrate', {
      buf: this.id,
      from: old.heap,
      to: fresh.right.heap,
      bytes: this.size,
      newcomer: device,
      reason: why,
    });
    return OK;
  }

  /**
   * A move must not overtake the work queued on the buffer: like an exporter's move ordered behind
   * the reservation object, wait (on the simulated clock) for every fence, of every usage.
   */
  private awaitIdle(): boolean {
    if (this.resv.testSignaled(DmaResvUsage.BOOKKEEP)) return true;
    return this.resv.waitTimeout(DmaResvUsage.BOOKKEEP, MIGRATION_WAIT_NS) > 0;
  }

  /** The DMA API bounces every mapping of this device (`is_swiotlb_force_bounce`). */
  private forcedBounce(device: Device): boolean {
    return this.ctx.dma.opsKind(device) === 'swiotlb';
  }

  /** Why the backing cannot move now, or undefined when it can. */
  private migrationBlocker(): string | undefined {
    if (this.options.allowMigration === false) return `the exporter of ${this.name} does not allow migration`;
    const stat = this.attached.find((a) => !a.dynamic);
    if (stat) return `${stat.device.name} is a static importer (no move_notify), so the backing cannot move`;
    const pinned = this.attached.find((a) => a.pinned);
    if (pinned) return `${pinned.device.name} has the backing pinned`;
    return undefined;
  }

  /** Refuses a late attach with EBUSY and a certificate naming the field that does not fit. */
  private refuse(
    device: string,
    field: string,
    c: AttacherConstraints,
    message: string,
    cert?: ConflictCertificate,
  ): KResult<never> {
    this.ctx.bus.emit('attach-refused', { buf: this.id, device, code: 'EBUSY', field, message });
    const certificate: ConflictCertificate = {
      ...(cert ?? { size: this.size, heapsTried: [], combined: fieldValue(c, field) }),
      field: field as ConflictCertificate['field'],
      imposedBy: cert?.imposedBy ?? [{ attacher: device, value: fieldValue(c, field) }],
      message,
    };
    return fail('EBUSY', message, { certificate });
  }

  /** Unmaps an attachment's table: handing it back to the CPU (`attrs` 0) or, when the data has moved, without sync. */
  private dropMapping(att: DmaBufAttachment, attrs = 0): void {
    const sgt = att.sgt!;
    this.ctx.dma.dmaUnmapSgtable(att.device, sgt, att.dir!, attrs);
    this.invalidated.add(sgt);
    att.sgt = undefined;
    att.dir = undefined;
    att.pinned = false;
  }

  private remapUsers(backing: Backing): void {
    for (const m of this.mmaps) {
      if (m.process.exited) continue;
      m.process.mm.mmap({
        length: m.length,
        addr: m.va,
        fixed: true,
        prot: { read: true, write: true },
        backing: this.pfnBacking(backing),
        name: `dmabuf:${this.name}`,
      });
    }
  }

  private pfnBacking(backing: Backing) {
    const pfns: number[] = [];
    for (const r of backing.runs)
      for (let p = 0; p < r.length; p += PAGE_SIZE) pfns.push((r.phys + p) / PAGE_SIZE);
    return { kind: 'pfns' as const, pfns, attr: 'cached' as const };
  }

  private allConstraints(): AttacherConstraints[] {
    const list = this.attached.map((a) => a.constraints);
    return this.exporterConstraints ? [this.exporterConstraints, ...list] : list;
  }

  private checkAttachment(att: DmaBufAttachment): KResult<never> | undefined {
    if (this.released) return this.gone();
    if (att.detached || !this.attached.includes(att)) {
      return fail('EINVAL', `${att.device.name} is not attached to dma-buf ${this.name}`);
    }
    return undefined;
  }

  private release(): void {
    for (const a of [...this.attached]) this.detach(a);
    this.current?.backing.free();
    this.current = undefined;
    this.released = true;
    this.options.release?.(this);
    this.ctx.bus.emit('release', { buf: this.id, name: this.name });
  }

  private gone(): KResult<never> {
    return fail('EBADF', `dma-buf ${this.name} (#${this.id}) was released; this handle is dead`, {
      buf: this.id,
    });
  }
}

/** A field's value in one attacher's constraints, for a certificate. */
const fieldValue = (c: AttacherConstraints, field: string): ConstraintValue => {
  switch (field) {
    case 'dmaLimit':
      return hex(c.dmaLimit);
    case 'maxSegmentCount':
      return c.maxSegmentCount;
    case 'maxSegmentSize':
      return c.maxSegmentSize;
    case 'segmentBoundary':
      return hex(c.segmentBoundaryMask);
    case 'alignment':
      return c.alignment;
    case 'contiguity':
      return c.needsContiguousDma;
    default:
      return null;
  }
};
