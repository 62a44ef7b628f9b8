import { createSystem, type SharedBufSystem } from '@sharedbuf/dma-buf';
import { DmaDirection } from '@sharedbuf/dma-mapping';
import { armSmmu } from '@sharedbuf/iommu';
import { type Device, type DeviceConfig, unwrap } from '@sharedbuf/platform';
import { type BenchContext, type FigureSet, fmt, median, nowMs } from '../harness.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const REPS = 5;

/**
 * The attacher mix, in turn: an SD host (64 KiB segments, 128 of them), a USB host (no segment may
 * cross 64 KiB), a codec that addresses 32 bits, and an ISP behind the SMMU.
 */
const KINDS: readonly { config: Omit<DeviceConfig, 'name'>; iommu: boolean }[] = [
  { config: { dmaMask: 32, dmaParms: { maxSegmentSize: 64 * 1024, maxSegmentCount: 128 } }, iommu: false },
  { config: { dmaMask: 32, dmaParms: { segmentBoundaryMask: 0xffff } }, iommu: false },
  { config: { dmaMask: 32, dmaParms: { maxSegmentSize: MiB } }, iommu: false },
  { config: { dmaMask: 40, dmaParms: { maxSegmentSize: 0xffff_ffff } }, iommu: true },
];

/** A machine with DMA debug off and enough SMMU contexts for one per IOMMU-backed attacher. */
const machine = (iommuDevices: number): SharedBufSystem =>
  createSystem({
    iommus: [armSmmu({ name: 'smmu0', contexts: Math.max(128, iommuDevices + 1) })],
    dmaDebug: false,
  });

const addDevice = (sys: SharedBufSystem, i: number): Device => {
  const kind = KINDS[i % KINDS.length]!;
  const dev = unwrap(sys.platform.devices.add({ name: `dev${i}`, ...kind.config }));
  if (kind.iommu) unwrap(sys.iommu.probeDevice(dev, { instance: 'smmu0', streamId: i }));
  return dev;
};

/** Milliseconds of one repetition: attaching everyone, then the first map. */
interface NegotiateTimes {
  readonly attach: number;
  readonly map: number;
}

/**
 * One repetition on a fresh machine: `n` devices are created beforehand (untimed); the timed part
 * attaches all of them to one 4 MiB buffer and maps the first attachment, which negotiates the
 * combined constraints and allocates the backing.
 */
const negotiateOnce = (n: number): NegotiateTimes => {
  const sys = machine(Math.ceil(n / KINDS.length));
  const devices = Array.from({ length: n }, (_, i) => addDevice(sys, i));
  const buf = unwrap(sys.dmabuf.export({ name: 'frame', size: 4 * MiB }));
  const t0 = nowMs();
  const first = unwrap(buf.attach(devices[0]!));
  for (let i = 1; i < n; i++) unwrap(buf.attach(devices[i]!));
  const t1 = nowMs();
  unwrap(buf.mapAttachment(first, DmaDirection.BIDIRECTIONAL));
  const t2 = nowMs();
  if (buf.attachments.length !== n || buf.backing === undefined)
    throw new Error('negotiation did not happen');
  return { attach: t1 - t0, map: t2 - t1 };
};

const FIGURE_ATTACHERS = 1000;

/**
 * Attach + first map for 250, 500, 1000 (the figure) and 2000 attachers, each the median of 5
 * fresh machines after one untimed run; prints the attach cost per attacher and how the total grows
 * per doubling (×2 when it is linear).
 */
const negotiate = (ctx: BenchContext): Record<string, number> => {
  const counts = ctx.quick ? [10, 20, 40] : [250, 500, FIGURE_ATTACHERS, 2 * FIGURE_ATTACHERS];
  const reps = ctx.quick ? 1 : REPS;
  const totals: number[] = [];
  for (const n of counts) {
    negotiateOnce(n);
    const runs = Array.from({ length: reps }, () => negotiateOnce(n));
    const total = median(runs.map((r) => r.attach + r.map));
    const attach = median(runs.map((r) => r.attach));
    const growth =
      totals.length === 0 ? '' : `; total ×${fmt(total / totals[totals.length - 1]!, 2)} for ×2 attachers`;
    ctx.log(
      `  ${n} attachers: ${fmt(total, 2)} ms = attach ${fmt(attach, 2)} (${fmt((attach / n) * 1000, 1)} µs each) + first map ${fmt(median(runs.map((r) => r.map)), 2)}${growth}`,
    );
    totals.push(total);
  }
  const at = ctx.quick ? counts.length - 1 : counts.indexOf(FIGURE_ATTACHERS);
  const figure = totals[at]!;
  ctx.log(
    `dmabuf_negotiate_1000_attachers_ms: ${fmt(figure, 2)}  (attach ${counts[at]} + first map, median of ${reps})`,
  );
  return { dmabuf_negotiate_1000_attachers_ms: figure };
};

/**
 * One repetition: the first map of a fresh buffer for an ISP behind the SMMU (negotiate, allocate
 * from the system heap, build the scatterlist, map it through the IO page table). Milliseconds.
 */
const mapOnce = (size: number): number => {
  const sys = machine(1);
  const isp = addDevice(sys, 3);
  const buf = unwrap(sys.dmabuf.export({ name: 'big', size }));
  const att = unwrap(buf.attach(isp));
  const t0 = nowMs();
  const sgt = unwrap(buf.mapAttachment(att, DmaDirection.BIDIRECTIONAL));
  const ms = nowMs() - t0;
  if (sgt.totalLength < size) throw new Error('the mapping does not cover the buffer');
  return ms;
};

const mapLarge = (ctx: BenchContext): Record<string, number> => {
  const size = ctx.quick ? 16 * MiB : GiB;
  const reps = ctx.quick ? 1 : REPS;
  mapOnce(size);
  const ms = median(Array.from({ length: reps }, () => mapOnce(size)));
  ctx.log(
    `dmabuf_map_attachment_1gib_ms: ${fmt(ms, 2)}  (first map of a ${size / MiB} MiB buffer through the SMMU, median of ${reps})`,
  );
  return { dmabuf_map_attachment_1gib_ms: ms };
};

/** `dmabuf_negotiate_1000_attachers_ms`, `dmabuf_map_attachment_1gib_ms`. */
export const dmabufFigures: FigureSet = {
  name: 'dma-buf',
  run: (ctx) => ({ ...negotiate(ctx), ...mapLarge(ctx) }),
};
