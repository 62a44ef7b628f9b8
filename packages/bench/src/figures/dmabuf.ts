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

/**
 * One repetition on a fresh machine: `n` devices are created beforehand (untimed); the timed part
 * attaches all of them to one 4 MiB buffer and maps the first attachment, which negotiates the
 * combined constraints and allocates the backing. Returns milliseconds.
 */
const negotiateOnce = (n: number): number => {
  const sys = machine(Math.ceil(n / KINDS.length));
  const devices = Array.from({ length: n }, (_, i) => addDevice(sys, i));
  const buf = unwrap(sys.dmabuf.export({ name: 'frame', size: 4 * MiB }));
  const t0 = nowMs();
  const first = unwrap(buf.attach(devices[0]!));
  for (let i = 1; i < n; i++) unwrap(buf.attach(devices[i]!));
  unwrap(buf.mapAttachment(first, DmaDirection.BIDIRECTIONAL));
  const ms = nowMs() - t0;
  if (buf.attachments.length !== n || buf.backing === undefined)
    throw new Error('negotiation did not happen');
  return ms;
};

const negotiate = (ctx: BenchContext): Record<string, number> => {
  const counts = ctx.quick ? [10, 20, 40] : [250, 500, 1000];
  const reps = ctx.quick ? 1 : REPS;
  const medians = counts.map((n) => median(Array.from({ length: reps }, () => negotiateOnce(n))));
  for (const [i, n] of counts.entries()) {
    const ms = medians[i]!;
    const growth = i === 0 ? '' : `, ×${fmt(ms / medians[i - 1]!, 2)} for ×2 attachers`;
    ctx.log(`  ${n} attachers: ${fmt(ms, 2)} ms (${fmt((ms / n) * 1000, 1)} µs per attacher${growth})`);
  }
  const last = medians[medians.length - 1]!;
  ctx.log(
    `dmabuf_negotiate_1000_attachers_ms: ${fmt(last, 2)}  (attach ${counts[counts.length - 1]} + first map, median of ${reps})`,
  );
  return { dmabuf_negotiate_1000_attachers_ms: last };
};

/** One repetition: the first map of a fresh buffer for an ISP behind the SMMU (negotiate, allocate, map). */
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
