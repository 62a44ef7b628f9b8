import { type BackingPlan, type ConflictCertificate, DmaResvUsage } from '@sharedbuf/dma-buf';
import { DmaDirection } from '@sharedbuf/dma-mapping';
import { type KernelError, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { BufferImport, type MoveNotice } from './buffer-import.js';
import { type BufferSnapshot, snapshotBuffer } from './buffer-view.js';
import { crc32 } from './checksum.js';
import { buildPipelineMachine, DISPLAY_EXTRAS } from './devices.js';
import { awaitBuffer, DeviceEngine, type JobRecord } from './engine.js';
import { paintTestPattern } from './frame.js';
import { dmaReadSg, dmaWriteSg } from './sg-dma.js';

const { TO_DEVICE, FROM_DEVICE } = DmaDirection;
const ms = 1_000_000;

/** The conflicting case: which frames, and which heaps the exporter allocates from. */
export interface ConflictVariantOptions {
  /** Frame width and height; the buffer holds one NV12 frame, width × height × 3/2 bytes (default 4K UHD). */
  readonly width?: number;
  readonly height?: number;
  /** Heaps the exporter may allocate from (default `['system']`, as with `/dev/dma_heap/system`). */
  readonly permittedHeaps?: readonly string[];
}

/** What happened when the display tried to attach, as plain data. */
export interface ConflictVariantResult {
  readonly buffer: string;
  readonly size: number;
  readonly width: number;
  readonly height: number;
  readonly permittedHeaps: readonly string[];
  /** The buffer while the ISP and encoder stream, before the display tries. */
  readonly before: BufferSnapshot;
  /** The refusal: errno and the sentence; `certificate` is the exporter's proof. */
  readonly refusal: { readonly code: string; readonly message: string } | null;
  readonly certificate: ConflictCertificate | null;
  /** The buffer after the refusal: it must be unchanged. */
  readonly after: BufferSnapshot;
  /** The backing object is the very same one. */
  readonly sameBacking: boolean;
  /** The ISP's and encoder's mappings are still valid (not invalidated by a move). */
  readonly mappingsValid: boolean;
  readonly moveNotify: readonly MoveNotice[];
  /** The frame's checksum as the ISP wrote it. */
  readonly checksumWritten: number;
  /** The frame's checksum as the encoder read it before and after the refused attach. */
  readonly checksumBefore: number;
  readonly checksumAfter: number;
  /** The planner's answer for the same three devices without the exporter's heap restriction. */
  readonly withoutRestriction: { readonly plan: BackingPlan | null; readonly error: string | null };
  readonly jobs: readonly JobRecord[];
}

const describeError = (e: KernelError): { code: string; message: string } => ({
  code: e.code,
  message: e.message,
});

/**
 * The variant where the constraints truly conflict: the processed frames are 4K NV12 (11.9 MiB) and
 * their exporter allocates from the system heap only — as a camera HAL does that takes its buffers
 * from `/dev/dma_heap/system`. The ISP and encoder, behind the SMMU, are served by scattered pages
 * and stream a frame. Then the display attaches: it needs the whole frame as one physically
 * contiguous range below 1 GiB, which the system heap (chunks of at most 1 MiB) cannot give and the
 * heaps that could (CMA) are not permitted. The exporter refuses with EBUSY and a conflict
 * certificate naming the field and the attacher, and nothing changes: same backing, mappings still
 * valid, the frame's bytes untouched. The planner then shows what would have worked.
 * @throws Error when a step the example relies on fails (a bug in the model or the example).
 */
export const runConflictVariant = (options: ConflictVariantOptions = {}): ConflictVariantResult => {
  const width = options.width ?? 3840;
  const height = options.height ?? 2160;
  const permittedHeaps = options.permittedHeaps ?? ['system'];
  const m = buildPipelineMachine();
  const { sys } = m;
  const clock = sys.platform.clock;
  const size = (width * height * 3) / 2;
  const buf = unwrap(sys.dmabuf.export({ name: 'processed-4k', size, constraints: { permittedHeaps } }));
  const notices: MoveNotice[] = [];
  const dynamic = { dynamic: true };
  const isp = unwrap(BufferImport.attach(buf, m.isp, FROM_DEVICE, dynamic, clock, notices));
  const enc = unwrap(BufferImport.attach(buf, m.encoder, TO_DEVICE, dynamic, clock, notices));
  const ispTable = unwrap(isp.mapping());
  const encTable = unwrap(enc.mapping());
  const jobs: JobRecord[] = [];
  const ispEngine = new DeviceEngine('isp', sys.dmabuf.fences, jobs);
  const encEngine = new DeviceEngine('encoder', sys.dmabuf.fences, jobs);
  const px = new Uint8Array(size);
  const seen = new Uint8Array(size);
  const checksums: number[] = [];
  const encode = () =>
    encEngine.submit({
      what: 'encode',
      frame: 0,
      reads: [buf],
      writes: [],
      durationNs: 20 * ms,
      work: () => {
        unwrap(dmaReadSg(m.encoder, unwrap(enc.mapping()), seen, size));
        checksums.push(crc32(seen));
      },
    });
  ispEngine.submit({
    what: 'process',
    frame: 0,
    reads: [],
    writes: [buf],
    durationNs: 12 * ms,
    work: () => {
      paintTestPattern({ width, height: (height * 3) / 2 }, 0, px);
      checksums.push(crc32(px));
      unwrap(dmaWriteSg(m.isp, unwrap(isp.mapping()), px, size));
    },
  });
  encode();
  awaitBuffer(buf, DmaResvUsage.BOOKKEEP);
  const before = snapshotBuffer(sys, buf, [isp, enc]);
  const backing = buf.backing;
  const attempt = BufferImport.attach(
    buf,
    m.display,
    TO_DEVICE,
    { dynamic: false, constraints: DISPLAY_EXTRAS },
    clock,
    notices,
  );
  encode();
  awaitBuffer(buf, DmaResvUsage.BOOKKEEP);
  const after = snapshotBuffer(sys, buf, [isp, enc]);
  const plan = sys.dmabuf.plan(size, [
    { device: m.isp },
    { device: m.encoder },
    { device: m.display, constraints: DISPLAY_EXTRAS },
  ]);
  const result: ConflictVariantResult = {
    buffer: buf.name,
    size,
    width,
    height,
    permittedHeaps,
    before,
    refusal: E.isLeft(attempt) ? describeError(attempt.left) : null,
    certificate: E.isLeft(attempt)
      ? ((attempt.left.detail.certificate as ConflictCertificate | undefined) ?? null)
      : null,
    after,
    sameBacking: buf.backing === backing,
    mappingsValid: !buf.isInvalidated(ispTable) && !buf.isInvalidated(encTable),
    moveNotify: notices,
    checksumWritten: checksums[0] ?? Number.NaN,
    checksumBefore: checksums[1] ?? Number.NaN,
    checksumAfter: checksums[2] ?? Number.NaN,
    withoutRestriction: E.isLeft(plan)
      ? { plan: null, error: plan.left.message }
      : { plan: plan.right, error: null },
    jobs,
  };
  for (const b of [isp, enc]) unwrap(b.release());
  if (E.isRight(attempt)) unwrap(attempt.right.release());
  unwrap(buf.put());
  return result;
};
