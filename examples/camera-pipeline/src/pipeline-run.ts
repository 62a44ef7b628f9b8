import type { SharedBufSystem } from '@sharedbuf/dma-buf';
import { type DmaBuf, DmaResvUsage } from '@sharedbuf/dma-buf';
import { DmaDirection } from '@sharedbuf/dma-mapping';
import { type Device, unwrap } from '@sharedbuf/platform';
import { BufferImport, type ImportOptions, type MoveNotice } from './buffer-import.js';
import { type BufferSnapshot, snapshotBuffer } from './buffer-view.js';
import { crc32 } from './checksum.js';
import { buildPipelineMachine, DISPLAY_EXTRAS, type PipelineMachine } from './devices.js';
import { awaitBuffer, DeviceEngine, type JobRecord } from './engine.js';
import { type FrameFormat, frameBytes, ispTransform, paintTestPattern } from './frame.js';
import type { DeviceSummary, FrameChecksums, MigrationReport, StageTimings } from './pipeline-result.js';
import { dmaReadSg, dmaWriteSg } from './sg-dma.js';

const { TO_DEVICE, FROM_DEVICE } = DmaDirection;
const DYNAMIC: ImportOptions = { dynamic: true };
const ms = 1_000_000;

/** Default job durations: an 8 ms sensor readout, 3 ms of ISP, 5 ms of encoding, a 4 ms scanout fetch. */
export const STAGE_TIMINGS: StageTimings = {
  capture: 8 * ms,
  process: 3 * ms,
  encode: 5 * ms,
  scanout: 4 * ms,
};

/** Buffers in each ring: the camera fills one while the ISP reads the other. */
export const RING = 2;

/** The reference checksum of frame `i` after the ISP: the transform applied to the pattern, on the side. */
const expectedChecksum = (format: FrameFormat, frame: number): number => {
  const pattern = new Uint8Array(frameBytes(format));
  const out = new Uint8Array(pattern.length);
  paintTestPattern(format, frame, pattern);
  ispTransform(format, pattern, out);
  return crc32(out);
};

/** The devices with a job queue. */
type EngineName = 'camera' | 'isp' | 'encoder' | 'display';

/** The four devices' imports of the two rings, as their drivers hold them. */
interface Imports {
  readonly cameraRaw: BufferImport[];
  readonly ispRaw: BufferImport[];
  readonly ispOut: BufferImport[];
  readonly encoderIn: BufferImport[];
  displayIn: BufferImport[];
}

/**
 * One run of the pipeline: the machine, the two buffer rings, the device queues and everything they
 * record. The driver loop in `runCameraPipeline` calls its stages in order.
 */
export class PipelineRun {
  readonly m: PipelineMachine;
  readonly size: number;
  readonly jobs: JobRecord[] = [];
  readonly notices: MoveNotice[] = [];
  readonly frames: FrameChecksums[] = [];
  readonly migrations: MigrationReport[] = [];
  readonly raw: DmaBuf[];
  readonly processed: DmaBuf[];
  readonly imports: Imports;
  readonly negotiated = new Map<string, BufferSnapshot>();
  /** Device-local frame memory (line buffers, SRAM), reused for every frame. */
  private readonly sram: Record<'camera' | 'ispIn' | 'ispOut' | 'encoder' | 'display', Uint8Array>;
  private readonly engines: Record<EngineName, DeviceEngine>;
  private readonly lastFrameIn: number[] = new Array<number>(RING).fill(-1);
  private readonly migrateReasons = new Map<number, string>();
  hotplugTime = Number.NaN;
  hotplugAtJob = -1;

  /** @param system a machine to run on (it must have an SMMU named `smmu0`); a new one by default. */
  constructor(
    readonly format: FrameFormat,
    system?: SharedBufSystem,
  ) {
    this.m = buildPipelineMachine(system);
    const { sys } = this.m;
    this.size = frameBytes(format);
    const exportRing = (name: string) =>
      Array.from({ length: RING }, (_, k) =>
        unwrap(sys.dmabuf.export({ name: `${name}${k}`, size: this.size })),
      );
    this.raw = exportRing('raw');
    this.processed = exportRing('processed');
    const imp = (bufs: DmaBuf[], dev: Device, dir: DmaDirection) =>
      bufs.map((b) => unwrap(BufferImport.attach(b, dev, dir, DYNAMIC, sys.platform.clock, this.notices)));
    this.imports = {
      cameraRaw: imp(this.raw, this.m.camera, FROM_DEVICE),
      ispRaw: imp(this.raw, this.m.isp, TO_DEVICE),
      ispOut: imp(this.processed, this.m.isp, FROM_DEVICE),
      encoderIn: imp(this.processed, this.m.encoder, TO_DEVICE),
      displayIn: [],
    };
    // Drivers map at import time; the first map of each buffer runs the negotiation and allocates.
    for (const i of this.allImports()) unwrap(i.mapping());
    for (const b of this.buffers()) this.negotiated.set(b.name, this.snapshot(b));
    const newEngine = (name: string) => new DeviceEngine(name, sys.dmabuf.fences, this.jobs);
    this.engines = {
      camera: newEngine('camera'),
      isp: newEngine('isp'),
      encoder: newEngine('encoder'),
      display: newEngine('display'),
    };
    const frame = () => new Uint8Array(this.size);
    this.sram = { camera: frame(), ispIn: frame(), ispOut: frame(), encoder: frame(), display: frame() };
    sys.dmabuf.bus.on('migrate', (e) => this.migrateReasons.set(e.buf, e.reason));
  }

  /** The four buffers: raw ring, then processed ring. */
  buffers(): DmaBuf[] {
    return [...this.raw, ...this.processed];
  }

  /** Every device's import, display's included once plugged in. */
  allImports(): BufferImport[] {
    const i = this.imports;
    return [...i.cameraRaw, ...i.ispRaw, ...i.ispOut, ...i.encoderIn, ...i.displayIn];
  }

  /** The buffer as it is now, with every live mapping's view. */
  snapshot(buf: DmaBuf): BufferSnapshot {
    return snapshotBuffer(this.m.sys, buf, this.allImports());
  }

  /** The camera exposes frame `i` and DMA-writes it into the raw buffer once the ISP is done with it. */
  capture(i: number): void {
    const k = i % RING;
    const rec: FrameChecksums = {
      frame: i,
      rawBuffer: this.raw[k]!.name,
      processedBuffer: this.processed[k]!.name,
      camera: 0,
      ispIn: 0,
      ispOut: 0,
      expected: expectedChecksum(this.format, i),
      encoder: null,
      display: null,
    };
    this.frames.push(rec);
    const px = this.sram.camera;
    this.engines.camera.submit({
      what: 'capture',
      frame: i,
      reads: [],
      writes: [this.raw[k]!],
      durationNs: STAGE_TIMINGS.capture,
      work: () => {
        paintTestPattern(this.format, i, px);
        rec.camera = crc32(px, this.size);
        this.dma(this.imports.cameraRaw[k]!, px, true);
      },
    });
  }

  /** The ISP reads raw frame `i`, transforms it and writes the processed buffer. */
  process(i: number): void {
    const k = i % RING;
    const rec = this.frames[i]!;
    const { ispIn, ispOut } = this.sram;
    this.engines.isp.submit({
      what: 'process',
      frame: i,
      reads: [this.raw[k]!],
      writes: [this.processed[k]!],
      durationNs: STAGE_TIMINGS.process,
      work: () => {
        this.dma(this.imports.ispRaw[k]!, ispIn, false);
        rec.ispIn = crc32(ispIn, this.size);
        ispTransform(this.format, ispIn, ispOut);
        rec.ispOut = crc32(ispOut, this.size);
        this.dma(this.imports.ispOut[k]!, ispOut, true);
      },
    });
    this.lastFrameIn[k] = i;
  }

  /** The encoder, and the display once plugged in, read processed frame `i`. */
  consume(i: number): void {
    const k = i % RING;
    const rec = this.frames[i]!;
    this.read('encoder', 'encode', STAGE_TIMINGS.encode, i, this.imports.encoderIn[k]!, (crc) => {
      rec.encoder = crc;
    });
    const display = this.imports.displayIn[k];
    if (display === undefined) return;
    this.read('display', 'scanout', STAGE_TIMINGS.scanout, i, display, (crc) => {
      rec.display = crc;
    });
  }

  /**
   * The display is plugged in while the pipeline streams: the processed buffers are let go idle
   * (every fence on them waited for), the display attaches to each, the exporter migrates the
   * backings its dynamic importers were using, and the display reads each buffer back through its
   * new mapping to check that no byte was lost.
   */
  hotplug(): void {
    const { sys } = this.m;
    for (const b of this.processed) awaitBuffer(b, DmaResvUsage.BOOKKEEP);
    this.hotplugTime = sys.platform.clock.now();
    this.hotplugAtJob = this.jobs.length;
    const before = this.processed.map((b) => this.snapshot(b));
    const noticesBefore = this.notices.length;
    const displayImport = (b: DmaBuf) =>
      unwrap(
        BufferImport.attach(
          b,
          this.m.display,
          TO_DEVICE,
          { dynamic: false, constraints: DISPLAY_EXTRAS },
          sys.platform.clock,
          this.notices,
        ),
      );
    this.imports.displayIn = this.processed.map(displayImport);
    // The dynamic importers map again now rather than at their next job, to show the new addresses.
    for (const i of this.allImports()) unwrap(i.mapping());
    this.processed.forEach((b, k) => {
      this.recordMigration(b, k, before[k]!, noticesBefore);
    });
  }

  private recordMigration(buf: DmaBuf, k: number, before: BufferSnapshot, noticesFrom: number): void {
    const frame = this.lastFrameIn[k]!;
    const mig: MigrationReport = {
      buffer: buf.name,
      newcomer: this.m.display.name,
      time: this.hotplugTime,
      reason: this.migrateReasons.get(buf.id) ?? 'not migrated',
      before,
      after: this.snapshot(buf),
      moveNotify: this.notices.slice(noticesFrom).filter((n) => n.buffer === buf.name),
      frame,
      checksumBefore: this.frames[frame]?.encoder ?? Number.NaN,
      checksumAfter: Number.NaN,
    };
    this.migrations.push(mig);
    this.read('display', 'read-back', STAGE_TIMINGS.scanout, frame, this.imports.displayIn[k]!, (crc) => {
      mig.checksumAfter = crc;
    });
  }

  /** Waits for every fence on every buffer, then unmaps, detaches and drops the buffers. */
  teardown(): void {
    for (const b of this.buffers()) awaitBuffer(b, DmaResvUsage.BOOKKEEP);
    for (const i of this.allImports()) unwrap(i.release());
    for (const b of this.buffers()) unwrap(b.put());
  }

  /** Each device's side of the negotiation, from one of its attachments. */
  devices(): DeviceSummary[] {
    const firsts = [
      this.imports.cameraRaw[0]!,
      this.imports.ispRaw[0]!,
      this.imports.encoderIn[0]!,
      this.imports.displayIn[0],
    ];
    return firsts.flatMap((i) => (i === undefined ? [] : [summarize(i)]));
  }

  /** A device job that reads a whole buffer and reports the checksum of what arrived. */
  private read(
    engine: EngineName,
    what: string,
    durationNs: number,
    frame: number,
    imp: BufferImport,
    done: (crc: number) => void,
  ): void {
    const px = this.sram[engine === 'display' ? 'display' : 'encoder'];
    this.engines[engine].submit({
      what,
      frame,
      reads: [imp.buf],
      writes: [],
      durationNs,
      work: () => {
        this.dma(imp, px, false);
        done(crc32(px, this.size));
      },
    });
  }

  private dma(imp: BufferImport, px: Uint8Array, write: boolean): void {
    const sgt = unwrap(imp.mapping());
    unwrap(write ? dmaWriteSg(imp.device, sgt, px, this.size) : dmaReadSg(imp.device, sgt, px, this.size));
  }
}

/** A device's side of the negotiation, from its attachment's constraints. */
const summarize = (imp: BufferImport): DeviceSummary => {
  const c = imp.attachment.constraints;
  return {
    name: imp.device.name,
    iommu: imp.device.iommu?.instance ?? null,
    dmaLimit: c.dmaLimit,
    maxSegmentSize: c.maxSegmentSize,
    maxSegmentCount: Number.isFinite(c.maxSegmentCount) ? c.maxSegmentCount : null,
    needsContiguous: c.needsContiguousDma,
    coherent: c.coherent,
    acceptsBounce: c.acceptsBounce,
    importer: imp.attachment.dynamic ? 'dynamic' : 'static',
  };
};
