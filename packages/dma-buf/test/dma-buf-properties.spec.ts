import { fc, test as fcTest } from '@fast-check/vitest';
import { DmaDirection, type SgTable, sgDmaSegments } from '@sharedbuf/dma-mapping';
import { armSmmu } from '@sharedbuf/iommu';
import { type Device, type KernelError, type KResult, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  type AttacherConstraints,
  type ConflictCertificate,
  type ConstraintExtras,
  type ConstraintField,
  combineConstraints,
  createSystem,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaSegment,
  MiB,
  NO_LIMIT,
  type PlanOptions,
  planBacking,
  type SharedBufSystem,
  satisfies,
  segmentsForAttachment,
} from '../src/index.js';

// Model-based properties of the negotiating exporter (seed 002's attacher-constraints RFC, built as
// proposed). Random devices attach, map, unmap, detach and attach late in random orders, while the
// CPU (through vmap) and the devices (through their own mappings) write patterns. After every step
// the real scatterlists are checked against each attacher's constraints and every mapping is read
// back against a reference copy of the buffer; a refused call must have changed nothing, and its
// certificate must name a field that really conflicts.

const KiB = 1024;
const PAGE = 4 * KiB;
const { TO_DEVICE, FROM_DEVICE, BIDIRECTIONAL } = DmaDirection;

/** One device as firmware would describe it. */
interface DeviceSpec {
  readonly dmaMask: number;
  readonly busDmaLimit: number;
  readonly iommu: boolean;
  readonly maxSegmentSize: number;
  readonly segmentBoundaryMask: number;
  readonly maxSegmentCount: number;
  readonly coherent: boolean;
}

interface AttachOp {
  readonly kind: 'attach';
  readonly dev: number;
  readonly extras: ConstraintExtras;
  readonly dynamic: boolean;
}
interface MapOp {
  readonly kind: 'map';
  readonly att: number;
  readonly dir: DmaDirection;
}
interface AttachmentOp {
  readonly kind: 'unmap' | 'detach';
  readonly att: number;
}
interface CpuWriteOp {
  readonly kind: 'cpuWrite';
  readonly at: number;
  readonly len: number;
  readonly seed: number;
}
interface DevWriteOp {
  readonly kind: 'devWrite';
  readonly att: number;
  readonly at: number;
  readonly len: number;
  readonly seed: number;
}

/** One step of a scenario; indices and offsets are reduced modulo what exists when it runs. */
type Op = AttachOp | MapOp | AttachmentOp | CpuWriteOp | DevWriteOp;

interface Scenario {
  readonly size: number;
  readonly allowMigration: boolean;
  readonly devices: readonly DeviceSpec[];
  readonly ops: readonly Op[];
}

const weighted = <T>(...choices: [fc.Arbitrary<T>, number][]) =>
  fc.oneof(...choices.map(([arbitrary, weight]) => ({ arbitrary, weight })));

const arbDevice: fc.Arbitrary<DeviceSpec> = fc.record({
  dmaMask: weighted<number>(
    [fc.constant(32), 2],
    [fc.integer({ min: 30, max: 40 }), 2],
    [fc.integer({ min: 41, max: 64 }), 1],
  ),
  busDmaLimit: weighted<number>(
    [fc.constant(0), 3],
    // Any page-granular end, not only 2^k − 1 (dma-ranges windows end on a page).
    [
      fc.integer({ min: (64 * MiB) / PAGE, max: (16 * 1024 * MiB) / PAGE }).map((pages) => pages * PAGE - 1),
      1,
    ],
    [fc.integer({ min: 26, max: 36 }).map((k) => 2 ** k - 1), 1],
  ),
  iommu: fc.boolean(),
  maxSegmentSize: weighted<number>(
    [fc.constantFrom(4 * KiB, 64 * KiB, MiB, 4 * MiB), 1],
    [fc.integer({ min: 4 * KiB, max: 4 * MiB }), 2],
  ),
  segmentBoundaryMask: weighted<number>(
    [fc.constant(NO_LIMIT), 1],
    [fc.integer({ min: 16, max: 32 }).map((k) => 2 ** k - 1), 2],
  ),
  maxSegmentCount: weighted<number>(
    [fc.constant(Number.POSITIVE_INFINITY), 4],
    [fc.constant(1), 1],
    [fc.integer({ min: 2, max: 8 }), 1],
    [fc.integer({ min: 16, max: 256 }), 2],
  ),
  coherent: fc.boolean(),
});

const arbExtras: fc.Arbitrary<ConstraintExtras> = fc
  .record({
    acceptsBounce: weighted<boolean | undefined>([fc.constant(undefined), 3], [fc.constant(false), 1]),
    needsContiguous: weighted<boolean | undefined>([fc.constant(undefined), 6], [fc.constant(true), 1]),
    alignment: weighted<number | undefined>(
      [fc.constant(undefined), 6],
      [fc.integer({ min: 12, max: 20 }).map((k) => 2 ** k), 1],
    ),
  })
  .map((r) => ({
    ...(r.acceptsBounce === undefined ? {} : { acceptsBounce: r.acceptsBounce }),
    ...(r.needsContiguous === undefined ? {} : { needsContiguous: r.needsContiguous }),
    ...(r.alignment === undefined ? {} : { alignment: r.alignment }),
  }));

const arbIndex = fc.nat({ max: 63 });
const arbAt = fc.nat({ max: 2 ** 30 });
const arbLen = fc.integer({ min: 1, max: 20 * KiB });
const arbSeed = fc.nat({ max: 255 });

const arbAttach = (dynamicWeight: number): fc.Arbitrary<Op> =>
  fc.record({
    kind: fc.constant('attach' as const),
    dev: arbIndex,
    extras: arbExtras,
    dynamic: weighted([fc.constant(true), dynamicWeight], [fc.constant(false), 1]),
  });

const arbMap: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('map' as const),
  att: arbIndex,
  dir: fc.constantFrom(TO_DEVICE, FROM_DEVICE, BIDIRECTIONAL),
});

const arbCpuWrite: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('cpuWrite' as const),
  at: arbAt,
  len: arbLen,
  seed: arbSeed,
});

const arbOp = (dynamicWeight: number): fc.Arbitrary<Op> =>
  weighted<Op>(
    [arbAttach(dynamicWeight), 3],
    [arbMap, 3],
    [fc.record({ kind: fc.constantFrom('unmap' as const, 'detach' as const), att: arbIndex }), 2],
    [arbCpuWrite, 2],
    [
      fc.record({
        kind: fc.constant('devWrite' as const),
        att: arbIndex,
        at: arbAt,
        len: arbLen,
        seed: arbSeed,
      }),
      2,
    ],
  );

const arbScenario = (o: {
  dynamicWeight: number;
  migration: fc.Arbitrary<boolean>;
}): fc.Arbitrary<Scenario> =>
  fc.record({
    size: weighted<number>(
      [fc.integer({ min: 16, max: 256 }).map((pages) => pages * 4 * KiB), 3],
      [fc.integer({ min: 257, max: 1024 }).map((pages) => pages * 4 * KiB), 1],
      [fc.integer({ min: 64 * KiB, max: 4 * MiB }), 1], // not a whole number of pages
    ),
    allowMigration: o.migration,
    devices: fc.array(arbDevice, { minLength: 1, maxLength: 8 }),
    // Sometimes the CPU fills the buffer first (allocating it for nobody in particular); a few
    // attachers negotiate at a first map; then anything, late attachers included.
    ops: fc
      .tuple(
        fc.option(arbCpuWrite, { nil: undefined, freq: 3 }),
        fc.array(arbAttach(o.dynamicWeight), { minLength: 1, maxLength: 3 }),
        fc.option(arbMap, { nil: undefined, freq: 5 }),
        fc.array(arbOp(o.dynamicWeight), { maxLength: 24 }),
      )
      .map(([cpu, first, map, rest]) => [...(cpu ? [cpu] : []), ...first, ...(map ? [map] : []), ...rest]),
  });

/** What runs saw, for the coverage check. */
interface Tally {
  lateAccepted: number;
  migrations: number;
  attachRefused: number;
  mapRefusedWithCertificate: number;
  devWrites: number;
  cpuWrites: number;
  bouncedMaps: number;
  checkedReads: number;
}

const newTally = (): Tally => ({
  lateAccepted: 0,
  migrations: 0,
  attachRefused: 0,
  mapRefusedWithCertificate: 0,
  devWrites: 0,
  cpuWrites: 0,
  bouncedMaps: 0,
  checkedReads: 0,
});

const planOptionsOf = (sys: SharedBufSystem): PlanOptions =>
  sys.swiotlb
    ? { bouncePool: { bytes: sys.swiotlb.end - sys.swiotlb.start, maxAddress: sys.swiotlb.end - 1 } }
    : {};

const crossesWindow = (s: DmaSegment, window: number): boolean =>
  Math.floor(s.dmaAddress / window) !== Math.floor((s.dmaAddress + s.length - 1) / window);

/** Whether a segment list breaks one field — judged here on its own, not through `satisfies`. */
const violates = (segs: readonly DmaSegment[], c: AttacherConstraints, field: ConstraintField): boolean => {
  switch (field) {
    case 'maxSegmentSize':
      return segs.some((s) => s.length > c.maxSegmentSize);
    case 'segmentBoundary':
      return segs.some((s) => crossesWindow(s, c.segmentBoundaryMask + 1));
    case 'dmaLimit':
      return segs.some((s) => s.dmaAddress < c.dmaBase || s.dmaAddress + s.length - 1 > c.dmaLimit);
    case 'maxSegmentCount':
      return segs.length > c.maxSegmentCount;
    case 'contiguity':
      return c.needsContiguousDma && segs.length > 1;
    case 'alignment':
      return (segs[0]?.dmaAddress ?? 0) % c.alignment !== 0;
    default:
      return false;
  }
};

/** The constraints with one field lifted to its neutral value. */
const relax = (c: AttacherConstraints, field: ConstraintField): AttacherConstraints => {
  switch (field) {
    case 'dmaLimit':
    case 'bounce':
      return { ...c, dmaLimit: NO_LIMIT };
    case 'maxSegmentSize':
      return { ...c, maxSegmentSize: NO_LIMIT };
    case 'maxSegmentCount':
    case 'contiguity':
      return { ...c, maxSegmentCount: Number.POSITIVE_INFINITY, needsContiguousDma: false };
    case 'segmentBoundary':
      return { ...c, segmentBoundaryMask: NO_LIMIT };
    case 'alignment':
      return { ...c, alignment: 1 };
    default:
      return c;
  }
};

/** The planner's verdict for these attachers on the machine as it is now: the failing field, or 'ok'. */
const planVerdict = (sys: SharedBufSystem, size: number, list: readonly AttacherConstraints[]): string => {
  const r = planBacking(size, combineConstraints(list), sys.dmabuf.heaps.list(), planOptionsOf(sys));
  if (E.isRight(r)) return 'ok';
  const cert = r.left.detail.certificate as ConflictCertificate | undefined;
  return cert?.field ?? `no certificate (${r.left.code})`;
};

/** True when lifting `field` for every attacher makes the planner stop failing on it. */
const relaxingResolves = (
  sys: SharedBufSystem,
  size: number,
  list: readonly AttacherConstraints[],
  field: ConstraintField,
): boolean =>
  planVerdict(
    sys,
    size,
    list.map((c) => relax(c, field)),
  ) !== field;

const certificateOf = (r: KResult<unknown>): ConflictCertificate | undefined =>
  E.isLeft(r) ? (r.left.detail.certificate as ConflictCertificate | undefined) : undefined;

const pattern = (seed: number, len: number): Uint8Array =>
  Uint8Array.from({ length: len }, (_, i) => (seed * 29 + i * 13 + 1) & 0xff);

/** The DMA address ranges, in buffer order, that carry buffer bytes `[at, at + len)` in a mapping. */
const dmaRanges = (sgt: SgTable, at: number, len: number): { dma: number; len: number }[] => {
  const out: { dma: number; len: number }[] = [];
  let base = 0;
  for (const s of sgDmaSegments(sgt)) {
    const a = Math.max(at, base);
    const b = Math.min(at + len, base + s.length);
    if (a < b) out.push({ dma: s.dmaAddress + (a - base), len: b - a });
    base += s.length;
    if (base >= at + len) break;
  }
  return out;
};

/** The buffer offset of the first byte of `got` that differs from `ref` at `at`, or −1. */
const firstDifference = (got: Uint8Array, ref: Uint8Array, at: number): number => {
  for (let i = 0; i < got.length; i++) if (got[i] !== ref[at + i]) return at + i;
  return -1;
};

const deviceWrites = (dir: DmaDirection | undefined): boolean => dir === FROM_DEVICE || dir === BIDIRECTIONAL;
const deviceReads = (dir: DmaDirection | undefined): boolean => dir === TO_DEVICE || dir === BIDIRECTIONAL;

/** What a refused call must leave as it was. */
interface Snapshot {
  readonly backing: DmaBuf['backing'];
  readonly attachments: readonly DmaBufAttachment[];
  readonly combined: string;
  readonly maps: readonly { a: DmaBufAttachment; sgt: SgTable | undefined; dir: DmaDirection | undefined }[];
  readonly freePages: number;
}

/** One scenario on a fresh machine, asserting every invariant after every step. */
class ScenarioRun {
  private readonly sys = createSystem({ iommus: [armSmmu({ name: 'smmu0' })] });
  private readonly devices: Device[];
  private readonly buf: DmaBuf;
  /** What the buffer must hold. */
  private readonly ref: Uint8Array;
  /** Ranges to read back: every write, plus the first and last byte. */
  private readonly written: { at: number; len: number }[];
  private readonly extrasOf = new Map<DmaBufAttachment, ConstraintExtras>();
  private readonly notified: DmaBufAttachment[] = [];
  private readonly importer = { moveNotify: (a: DmaBufAttachment) => this.notified.push(a) };

  constructor(
    private readonly sc: Scenario,
    private readonly tally: Tally,
  ) {
    this.devices = sc.devices.map((d, i) => this.addDevice(d, i));
    this.buf = unwrap(
      this.sys.dmabuf.export({ name: 'frame', size: sc.size, allowMigration: sc.allowMigration }),
    );
    this.ref = new Uint8Array(sc.size);
    this.written = [
      { at: 0, len: 1 },
      { at: sc.size - 1, len: 1 },
    ];
  }

  run(): void {
    for (const [i, op] of this.sc.ops.entries()) {
      const step = `step ${i} (${op.kind})`;
      this.apply(op, step);
      this.checkTables(step);
      this.checkDeviceReads(step);
    }
    this.checkCpuView('at the end');
    expect(
      this.sys.dma.debug.findings().map((f) => f.message),
      'DMA debug: ownership is handed over by begin/end_cpu_access',
    ).toEqual([]);
  }

  private addDevice(d: DeviceSpec, i: number): Device {
    const dev = unwrap(
      this.sys.platform.devices.add({
        name: `d${i}`,
        dmaMask: d.dmaMask,
        busDmaLimit: d.busDmaLimit,
        coherent: d.coherent,
        dmaParms: {
          maxSegmentSize: d.maxSegmentSize,
          segmentBoundaryMask: d.segmentBoundaryMask,
          maxSegmentCount: d.maxSegmentCount,
        },
      }),
    );
    if (d.iommu) unwrap(this.sys.iommu.probeDevice(dev, { instance: 'smmu0', streamId: i }));
    return dev;
  }

  private apply(op: Op, step: string): void {
    switch (op.kind) {
      case 'attach':
        this.attach(op, step);
        break;
      case 'map':
        this.map(op, step);
        break;
      case 'unmap':
        this.unmap(op);
        break;
      case 'detach':
        this.detach(op);
        break;
      case 'cpuWrite':
        this.cpuWrite(op, step);
        break;
      case 'devWrite':
        this.devWrite(op);
        break;
    }
  }

  private attach(op: AttachOp, step: string): void {
    const { buf } = this;
    const device = this.devices[op.dev % this.devices.length]!;
    const before = this.snapshot();
    this.notified.length = 0;
    const r = buf.attach(device, {
      constraints: op.extras,
      ...(op.dynamic ? { importer: this.importer } : {}),
    });
    if (E.isLeft(r)) {
      this.checkRefusedAttach(r, device, op.extras, before, step);
      return;
    }
    this.extrasOf.set(r.right, op.extras);
    if (before.backing === undefined) return;
    this.tally.lateAccepted += 1;
    if (buf.backing === before.backing) {
      expect(this.notified, `${step}: move_notify without a move`).toEqual([]);
      return;
    }
    // Migrated: every earlier mapping was torn down and invalidated, and its importer told once.
    this.tally.migrations += 1;
    for (const m of before.maps) {
      if (m.sgt === undefined) continue;
      expect(m.a.sgt, `${step}: ${m.a.device.name} still mapped after a move`).toBeUndefined();
      expect(buf.isInvalidated(m.sgt)).toBe(true);
      expect(
        this.notified.filter((n) => n === m.a),
        `${step}: move_notify to ${m.a.device.name}`,
      ).toHaveLength(1);
    }
    this.checkCpuView(`${step}, after the move`);
  }

  private checkRefusedAttach(
    r: E.Left<KernelError>,
    device: Device,
    extras: ConstraintExtras,
    before: Snapshot,
    step: string,
  ): void {
    this.tally.attachRefused += 1;
    expect(before.backing, `${step}: an attach before the first map was refused`).toBeDefined();
    expect(r.left.code).toBe('EBUSY');
    this.expectUnchanged(before, step, true);
    expect(this.notified, `${step}: a refused attach notified importers`).toEqual([]);
    const cert = certificateOf(r);
    if (cert === undefined) {
      expect.fail(`${step}: refusal without a certificate: ${r.left.message}`);
      return;
    }
    const c = this.sys.dmabuf.constraintsFor(device, extras);
    const current = this.buf.attachments.map((a) => a.constraints);
    this.expectNamesAttachers(cert, [...current.map((x) => x.attacher), c.attacher], step);
    expect(planVerdict(this.sys, this.sc.size, current), `${step}: the current attachers alone`).toBe('ok');
    // The named field really conflicts: the existing backing breaks it for the newcomer, or lifting
    // it lets the planner serve everyone with the newcomer.
    const path = c.behindIommu ? ({ kind: 'iommu', iova: 0 } as const) : ({ kind: 'direct' } as const);
    const real =
      violates(segmentsForAttachment(before.backing!.runs, c, path), c, cert.field) ||
      relaxingResolves(this.sys, this.sc.size, [...current, c], cert.field);
    expect(
      real,
      `${step}: the certificate names '${cert.field}', which does not conflict: ${r.left.message}`,
    ).toBe(true);
  }

  private map(op: MapOp, step: string): void {
    const a = this.pick(op.att);
    if (a === undefined) return;
    const before = this.snapshot();
    const cached = a.sgt;
    const r = this.buf.mapAttachment(a, op.dir);
    if (E.isRight(r)) {
      expect(a.sgt).toBe(r.right);
      if (cached !== undefined)
        expect(r.right, `${step}: a second map returns the cached table`).toBe(cached);
      else if (this.bounced(a)) this.tally.bouncedMaps += 1;
      return;
    }
    if (cached !== undefined) {
      expect(r.left.code, `${step}: ${r.left.message}`).toBe('EBUSY');
      this.expectUnchanged(before, step, true);
      return;
    }
    const cert = certificateOf(r);
    // A DMA-layer refusal may leave IO page-table pages behind, as Linux does; nothing else may change.
    this.expectUnchanged(before, step, cert !== undefined);
    if (cert === undefined) {
      // The negotiation accepted this attacher: only a shared resource running out may stop its map.
      expect(r.left.code, `${step}: ${a.device.name}'s map failed: ${r.left.message}`).toBe('ENOMEM');
      return;
    }
    this.tally.mapRefusedWithCertificate += 1;
    const current = this.buf.attachments.map((x) => x.constraints);
    this.expectNamesAttachers(
      cert,
      current.map((x) => x.attacher),
      step,
    );
    expect(planVerdict(this.sys, this.sc.size, current), `${step}: the planner agrees`).toBe(cert.field);
    expect(
      relaxingResolves(this.sys, this.sc.size, current, cert.field),
      `${step}: the certificate names '${cert.field}', which does not conflict: ${r.left.message}`,
    ).toBe(true);
  }

  private unmap(op: AttachmentOp): void {
    const a = this.pick(op.att, (x) => x.sgt !== undefined);
    if (a?.sgt === undefined) return;
    unwrap(this.buf.unmapAttachment(a, a.sgt, a.dir!));
    expect(a.sgt).toBeUndefined();
  }

  private detach(op: AttachmentOp): void {
    const { buf } = this;
    const a = this.pick(op.att);
    if (a === undefined) return;
    unwrap(buf.detach(a));
    expect(buf.attachments.includes(a)).toBe(false);
    expect(a.sgt).toBeUndefined();
    // The RFC's recalc: the combination is that of the attachers left.
    const left = buf.attachments.map((x) => this.sys.dmabuf.constraintsFor(x.device, this.extrasOf.get(x)));
    expect(buf.combined()).toEqual(combineConstraints(left));
  }

  private cpuWrite(op: CpuWriteOp, step: string): void {
    const { buf } = this;
    if (!this.safeToWrite(undefined)) return;
    const at = op.at % this.sc.size;
    const len = Math.min(op.len, this.sc.size - at);
    const before = this.snapshot();
    const begun = buf.beginCpuAccess(BIDIRECTIONAL);
    if (E.isLeft(begun)) {
      // Only the deferred negotiation may refuse, and then nothing is allocated.
      expect(before.backing, `${step}: ${begun.left.message}`).toBeUndefined();
      expect(certificateOf(begun), `${step}: ${begun.left.message}`).toBeDefined();
      this.expectUnchanged(before, step, true);
      return;
    }
    const data = pattern(op.seed, len);
    unwrap(unwrap(buf.vmap()).write(at, data, 0, len));
    unwrap(buf.endCpuAccess(BIDIRECTIONAL));
    this.record(at, data);
    this.tally.cpuWrites += 1;
  }

  private devWrite(op: DevWriteOp): void {
    const a = this.pick(op.att, (x) => deviceWrites(x.dir));
    if (a?.sgt === undefined || !this.safeToWrite(a)) return;
    const at = op.at % this.sc.size;
    const data = pattern(op.seed, Math.min(op.len, this.sc.size - at));
    let o = 0;
    for (const r of dmaRanges(a.sgt, at, data.length)) {
      unwrap(a.device.dmaWrite(r.dma, data, o, r.len));
      o += r.len;
    }
    // The hand-over the dma-buf rules ask for after a device wrote: the CPU takes the buffer (bounce
    // copies flow back, stale lines go) and gives it back to every device.
    unwrap(this.buf.beginCpuAccess(BIDIRECTIONAL));
    unwrap(this.buf.endCpuAccess(BIDIRECTIONAL));
    this.record(at, data);
    this.tally.devWrites += 1;
  }

  private record(at: number, data: Uint8Array): void {
    this.ref.set(data, at);
    this.written.push({ at, len: data.length });
  }

  /** Every table handed out is live and satisfies its attacher, checked from its DMA segments. */
  private checkTables(step: string): void {
    for (const a of this.buf.attachments) {
      if (a.sgt === undefined) continue;
      if (this.buf.isInvalidated(a.sgt)) expect.fail(`${step}: ${a.device.name} holds an invalidated table`);
      const segs = sgDmaSegments(a.sgt);
      const verdict = satisfies(segs, a.constraints);
      if (!verdict.ok)
        expect.fail(
          `${step}: ${a.device.name} was handed a table that breaks ${verdict.field}: ${verdict.message}`,
        );
      if (segs.reduce((n, s) => n + s.length, 0) < this.sc.size)
        expect.fail(`${step}: ${a.device.name}'s table is short`);
    }
  }

  /** Every device that may read its mapping reads the bytes last written, by DMA at its own addresses. */
  private checkDeviceReads(step: string): void {
    if (this.buf.backing === undefined) return;
    for (const a of this.buf.attachments) {
      if (a.sgt === undefined || !deviceReads(a.dir)) continue;
      for (const w of this.written) {
        this.tally.checkedReads += 1;
        const bad = firstDifference(this.deviceRead(a, w.at, w.len), this.ref, w.at);
        if (bad < 0) continue;
        const how = `${a.constraints.behindIommu ? 'IOMMU' : 'direct'}${this.bounced(a) ? ', bounced' : ''}, ${a.device.coherent ? 'coherent' : 'non-coherent'}`;
        const who = this.buf.attachments.map((x) => x.device.name).join(', ');
        expect.fail(`${step}: ${a.device.name} (${how}) reads byte ${bad} stale; attachers ${who}`);
      }
    }
  }

  /** The CPU reads the bytes last written, inside begin/end_cpu_access. */
  private checkCpuView(step: string): void {
    const { buf } = this;
    if (buf.backing === undefined) return;
    unwrap(buf.beginCpuAccess(BIDIRECTIONAL));
    const view = unwrap(buf.vmap());
    for (const w of this.written) {
      const got = new Uint8Array(w.len);
      unwrap(view.read(w.at, got, 0, w.len));
      const bad = firstDifference(got, this.ref, w.at);
      if (bad >= 0) expect.fail(`${step}: the CPU reads byte ${bad} stale`);
    }
    unwrap(buf.endCpuAccess(BIDIRECTIONAL));
  }

  private deviceRead(a: DmaBufAttachment, at: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let o = 0;
    for (const r of dmaRanges(a.sgt!, at, len)) {
      unwrap(a.device.dmaRead(r.dma, out, o, r.len));
      o += r.len;
    }
    expect(o).toBe(len);
    return out;
  }

  /** The attachment's device was handed swiotlb bounce buffers. */
  private bounced(a: DmaBufAttachment): boolean {
    const pool = this.sys.swiotlb;
    if (a.sgt === undefined || pool === undefined || this.sys.dma.opsKind(a.device) === 'iommu') return false;
    return sgDmaSegments(a.sgt).some((s) => pool.isSwiotlbBuffer(s.dmaAddress + a.device.dmaRangeOffset));
  }

  /**
   * Whether a write (by the CPU when `writer` is undefined) is one the dma-buf rules make coherent.
   * At begin_cpu_access every mapping is synced for the CPU in attachment order, as Linux's heaps
   * do: a bounce copy of a FROM_DEVICE or BIDIRECTIONAL mapping flows back over the buffer (through
   * the CPU cache), and a non-coherent device's sync invalidates the buffer's lines. So a write is
   * only kept when no other bounce copy may flow back over it, and a bounced writer's data, copied
   * back through the cache, when no non-coherent mapping may invalidate it afterwards.
   */
  private safeToWrite(writer: DmaBufAttachment | undefined): boolean {
    const writerBounced = writer !== undefined && this.bounced(writer);
    return this.buf.attachments.every((a) => {
      if (a === writer || a.sgt === undefined) return true;
      const flowsBack =
        this.bounced(a) && (writer === undefined ? a.dir === FROM_DEVICE : deviceWrites(a.dir));
      const invalidates = writerBounced && !a.device.coherent && deviceWrites(a.dir);
      return !flowsBack && !invalidates;
    });
  }

  private pick(
    i: number,
    which: (a: DmaBufAttachment) => boolean = () => true,
  ): DmaBufAttachment | undefined {
    const list = this.buf.attachments.filter(which);
    return list[i % Math.max(1, list.length)];
  }

  private snapshot(): Snapshot {
    const { buf } = this;
    return {
      backing: buf.backing,
      attachments: [...buf.attachments],
      combined: JSON.stringify(buf.combined()),
      maps: buf.attachments.map((a) => ({ a, sgt: a.sgt, dir: a.dir })),
      freePages: this.sys.platform.pages.freePageCount(),
    };
  }

  /** A refused call changed nothing a user can observe. */
  private expectUnchanged(before: Snapshot, what: string, pages: boolean): void {
    const { buf } = this;
    expect(buf.backing === before.backing, `${what}: the backing was replaced or allocated`).toBe(true);
    expect(buf.attachments.length, `${what}: attachments changed`).toBe(before.attachments.length);
    for (const [i, a] of before.attachments.entries()) expect(buf.attachments[i] === a).toBe(true);
    expect(JSON.stringify(buf.combined()), `${what}: combined constraints changed`).toBe(before.combined);
    for (const m of before.maps) {
      expect(m.a.sgt === m.sgt && m.a.dir === m.dir, `${what}: ${m.a.device.name}'s mapping changed`).toBe(
        true,
      );
      if (m.sgt)
        expect(buf.isInvalidated(m.sgt), `${what}: ${m.a.device.name}'s table invalidated`).toBe(false);
    }
    if (pages) expect(this.sys.platform.pages.freePageCount(), `${what}: pages taken`).toBe(before.freePages);
  }

  private expectNamesAttachers(cert: ConflictCertificate, names: readonly string[], step: string): void {
    for (const i of cert.imposedBy)
      expect(names, `${step}: certificate names ${i.attacher}`).toContain(i.attacher);
  }
}

const runScenario = (sc: Scenario, tally: Tally = newTally()): void => new ScenarioRun(sc, tally).run();

/** A device of the replays: 32-bit, direct, 4 KiB segments, non-coherent unless told. */
const device = (over: Partial<DeviceSpec> = {}): DeviceSpec => ({
  dmaMask: 32,
  busDmaLimit: 0,
  iommu: false,
  maxSegmentSize: 4 * KiB,
  segmentBoundaryMask: NO_LIMIT,
  maxSegmentCount: Number.POSITIVE_INFINITY,
  coherent: false,
  ...over,
});
const attachDev = (dev: number, extras: ConstraintExtras = {}, dynamic = true): Op => ({
  kind: 'attach',
  dev,
  extras,
  dynamic,
});
const mapAtt = (att: number, dir: DmaDirection = TO_DEVICE): Op => ({ kind: 'map', att, dir });
const cpuFill: Op = { kind: 'cpuWrite', at: 0, len: 1, seed: 0 };
const scenario = (size: number, devices: DeviceSpec[], ops: Op[]): Scenario => ({
  size,
  allowMigration: true,
  devices,
  ops,
});

/** Shrunk counterexamples the properties found, replayed by name (each states the rule it broke). */
const REPLAYS: readonly { rule: string; sc: Scenario }[] = [
  {
    rule: 'a CPU write made while no device had the buffer mapped reaches a non-coherent device that maps it later: a cached buffer is mapped with CPU sync (drivers/dma-buf/heaps/system_heap.c system_heap_map_dma_buf)',
    sc: scenario(64 * KiB, [device({ dmaMask: 41 })], [cpuFill, attachDev(0), mapAtt(0)]),
  },
  {
    rule: 'a bounce buffer handed to a non-coherent device holds the buffer bytes in memory, not only in the CPU cache (kernel/dma/direct.h dma_direct_map_phys)',
    sc: scenario(
      64 * KiB,
      [device({ dmaMask: 41, busDmaLimit: 64 * MiB - 1 })],
      [cpuFill, attachDev(0), mapAtt(0)],
    ),
  },
  {
    rule: 'begin/end_cpu_access sync every mapped attachment, coherent ones too: their bounce buffers and DMA-debug ownership follow (drivers/dma-buf/heaps/system_heap.c, kernel/dma/direct.h)',
    sc: scenario(
      64 * KiB,
      [device({ busDmaLimit: 64 * MiB - 1, maxSegmentSize: 64 * KiB, coherent: true })],
      [cpuFill, attachDev(0), mapAtt(0), { kind: 'cpuWrite', at: 100, len: 8, seed: 3 }],
    ),
  },
  {
    rule: 'an IOMMU-backed attacher gets the first-byte alignment it asked for, or the negotiation refuses (seed 002 RFC extension; drivers/iommu/dma-iommu.c aligns an IOVA to its size only)',
    sc: scenario(
      64 * KiB,
      [device({ dmaMask: 30, iommu: true })],
      [attachDev(0, { alignment: 128 * KiB }), mapAtt(0)],
    ),
  },
  {
    rule: 'a late attacher accepted because it may be bounced gets a bounced table that keeps its alignment, or is refused (kernel/dma/swiotlb.c aligns to min_align_mask only)',
    sc: scenario(
      64 * KiB,
      [
        device({ busDmaLimit: 64 * MiB - 1, coherent: true }),
        device({ dmaMask: 41, busDmaLimit: 64 * MiB - 1, coherent: true }),
      ],
      [cpuFill, attachDev(0), mapAtt(0), attachDev(1, { alignment: 128 * KiB }, false), mapAtt(1)],
    ),
  },
  {
    rule: 'a bounced attachment is mapped in pieces swiotlb can bounce, at most swiotlb_max_mapping_size each (kernel/dma/swiotlb.c)',
    sc: scenario(
      MiB,
      [device({ maxSegmentSize: 260 * KiB, segmentBoundaryMask: 512 * KiB - 1 })],
      [cpuFill, attachDev(0), mapAtt(0)],
    ),
  },
  {
    rule: 'an IOMMU-backed attacher never gets more DMA segments than it accepts: dma-iommu merges whole scatterlist entries, it never splits one (drivers/iommu/dma-iommu.c __finalise_sg)',
    sc: scenario(
      3 * MiB + 4 * KiB + 1,
      [
        device({
          iommu: true,
          maxSegmentSize: MiB + 4 * KiB,
          segmentBoundaryMask: 4 * MiB - 1,
          maxSegmentCount: 3,
        }),
      ],
      [attachDev(0, {}, false), mapAtt(0)],
    ),
  },
  {
    rule: 'two attachments of one device mapping the same pages are both handed to the CPU by begin_cpu_access (kernel/dma/debug.c tracks each mapping)',
    sc: scenario(
      64 * KiB,
      [device({ dmaMask: 41, busDmaLimit: 64 * MiB - 1, segmentBoundaryMask: 0xffff, maxSegmentCount: 16 })],
      [
        attachDev(0, { acceptsBounce: false }, false),
        mapAtt(0, FROM_DEVICE),
        attachDev(0),
        mapAtt(1, FROM_DEVICE),
      ],
    ),
  },
];

describe('negotiation under random attach / map / detach / late-attach orders (seed 002 RFC, drivers/dma-buf/dma-buf.c)', () => {
  fcTest.prop([arbScenario({ dynamicWeight: 1, migration: fc.constant(true) })], {
    numRuns: 60,
    interruptAfterTimeLimit: 5000,
  })(
    'static and dynamic importers: every handed-out table satisfies its attacher, every mapping reads the last bytes written, a refused call changes nothing and its certificate names a field that really conflicts',
    (sc) => runScenario(sc),
  );

  fcTest.prop(
    [arbScenario({ dynamicWeight: 8, migration: weighted([fc.constant(true), 5], [fc.constant(false), 1]) })],
    { numRuns: 60, interruptAfterTimeLimit: 5000 },
  )('dynamic importers: a late stricter attacher moves the backing and no byte is lost', (sc) =>
    runScenario(sc),
  );

  it('the scenarios reach late attaches, migrations, refusals, bounced maps and data checks', () => {
    const total = newTally();
    const arb = arbScenario({ dynamicWeight: 4, migration: fc.constant(true) });
    for (const sc of fc.sample(arb, { numRuns: 30, seed: 42 })) runScenario(sc, total);
    expect(total.lateAccepted).toBeGreaterThan(0);
    expect(total.migrations).toBeGreaterThan(0);
    expect(total.attachRefused).toBeGreaterThan(0);
    expect(total.mapRefusedWithCertificate).toBeGreaterThan(0);
    expect(total.bouncedMaps).toBeGreaterThan(0);
    expect(total.devWrites).toBeGreaterThan(0);
    expect(total.cpuWrites).toBeGreaterThan(0);
    expect(total.checkedReads).toBeGreaterThan(0);
  });

  describe('shrunk counterexamples, replayed', () => {
    for (const r of REPLAYS) it(r.rule, () => runScenario(r.sc));
  });
});
