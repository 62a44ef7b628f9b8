import { DmaResvUsage } from '@sharedbuf/dma-buf';
import { awaitBuffer } from './engine.js';
import type { FrameFormat } from './frame.js';
import type { CameraPipelineOptions, CameraPipelineResult } from './pipeline-result.js';
import { PipelineRun, RING, STAGE_TIMINGS } from './pipeline-run.js';

/** The default frame: 640×480 luma, 300 KiB. */
export const DEFAULT_FORMAT: FrameFormat = { width: 640, height: 480 };

/**
 * Runs the headline pipeline on the default machine with one SMMU: a camera (32-bit DMA, no IOMMU)
 * fills two raw dma-bufs in turn; the ISP (behind the SMMU, 64 KiB segments) reads each raw frame,
 * transforms it and writes one of two processed dma-bufs; the encoder (behind the SMMU, a
 * 0xddc00000-byte bus window) reads every processed frame. After `framesBeforeHotplug` frames a
 * display (no IOMMU, one contiguous range below 1 GiB, no bouncing) attaches late to the processed
 * buffers, which the exporter migrates; the display then reads every frame too. Every job is ordered
 * by fences on the buffers' reservation objects, every stage checksums the bytes it saw, and the run
 * ends with a teardown and DMA debug's verdict. Deterministic: the same options give the same result.
 * @throws RangeError for fewer than 2 frames before the hot-plug (both processed buffers must hold
 * a frame when they move) or a negative count after; Error when a step the example relies on fails
 * (a bug in the model or the example).
 */
export const runCameraPipeline = (options: CameraPipelineOptions = {}): CameraPipelineResult => {
  const format = options.format ?? DEFAULT_FORMAT;
  const before = options.framesBeforeHotplug ?? 3;
  const after = options.framesAfterHotplug ?? 3;
  if (!Number.isInteger(before) || before < RING || !Number.isInteger(after) || after < 0) {
    throw new RangeError(`runCameraPipeline: need ≥ ${RING} frames before the hot-plug and ≥ 0 after`);
  }
  const run = new PipelineRun(format, options.system);
  const total = before + after;
  run.capture(0);
  for (let i = 0; i < total; i++) {
    if (i === before) run.hotplug();
    if (i + 1 < total) run.capture(i + 1);
    run.process(i);
    run.consume(i);
  }
  if (after === 0) run.hotplug();
  for (const b of run.buffers()) awaitBuffer(b, DmaResvUsage.BOOKKEEP);
  const buffers = run.buffers().map((b) => ({
    name: b.name,
    size: b.size,
    attachers: b.attachments.map((a) => a.device.name),
    negotiated: run.negotiated.get(b.name)!,
    final: run.snapshot(b),
  }));
  const devices = run.devices();
  run.teardown();
  const { sys } = run.m;
  const pool = sys.swiotlb;
  return {
    format,
    frameBytes: run.size,
    framesBeforeHotplug: before,
    framesAfterHotplug: after,
    timings: STAGE_TIMINGS,
    swiotlb: pool ? { start: pool.start, end: pool.end } : null,
    devices,
    buffers,
    jobs: run.jobs,
    frames: run.frames,
    hotplugTime: run.hotplugTime,
    hotplugAtJob: run.hotplugAtJob,
    migrations: run.migrations,
    dmaDebug: {
      findings: [...sys.dma.debug.findings()],
      activeAfterTeardown: sys.dma.debug.stats().activeEntries,
    },
  };
};
