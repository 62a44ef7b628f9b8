import type { SharedBufSystem } from '@sharedbuf/dma-buf';
import type { DmaDebugFinding } from '@sharedbuf/dma-mapping';
import type { MoveNotice } from './buffer-import.js';
import type { BufferSnapshot } from './buffer-view.js';
import type { JobRecord } from './engine.js';
import type { FrameFormat } from './frame.js';

/** What a run of the pipeline can be asked to do. */
export interface CameraPipelineOptions {
  /** Frame size (default 640×480 luma, 300 KiB). */
  readonly format?: FrameFormat;
  /** Frames that flow before the display is plugged in (default 3, at least 2 to fill both buffers). */
  readonly framesBeforeHotplug?: number;
  /** Frames that flow after (default 3). */
  readonly framesAfterHotplug?: number;
  /** Run on this machine (it must have an SMMU named `smmu0`) instead of a new one. */
  readonly system?: SharedBufSystem;
}

/** Job durations, in simulated ns. */
export interface StageTimings {
  readonly capture: number;
  readonly process: number;
  readonly encode: number;
  readonly scanout: number;
}

/** A device, as the buffers' negotiation sees it. */
export interface DeviceSummary {
  readonly name: string;
  /** The IOMMU instance it sits behind, or null. */
  readonly iommu: string | null;
  /** Highest DMA address it can emit (mask, bus limit, aperture). */
  readonly dmaLimit: number;
  readonly maxSegmentSize: number;
  /** null = unlimited. */
  readonly maxSegmentCount: number | null;
  readonly needsContiguous: boolean;
  readonly coherent: boolean;
  readonly acceptsBounce: boolean;
  /** Dynamic importers follow moves (`move_notify`); static ones pin the backing when they map. */
  readonly importer: 'dynamic' | 'static';
}

/** The checksum (CRC-32) each stage took of one frame. */
export interface FrameChecksums {
  readonly frame: number;
  readonly rawBuffer: string;
  readonly processedBuffer: string;
  /** Of the pattern the camera sent. */
  camera: number;
  /** Of what the ISP read back from the raw buffer. */
  ispIn: number;
  /** Of what the ISP produced and wrote. */
  ispOut: number;
  /** Of the reference transform applied to the reference pattern, computed on the side. */
  expected: number;
  /** Of what the encoder read; null before it ran. */
  encoder: number | null;
  /** Of what the display read; null when no display was attached. */
  display: number | null;
}

/** One processed buffer moved for the late display. */
export interface MigrationReport {
  readonly buffer: string;
  readonly newcomer: string;
  /** When the display attached (ns). */
  readonly time: number;
  /** Why the old backing did not serve the newcomer (the exporter's words). */
  readonly reason: string;
  readonly before: BufferSnapshot;
  readonly after: BufferSnapshot;
  readonly moveNotify: readonly MoveNotice[];
  /** The frame the buffer held when it moved. */
  readonly frame: number;
  /** That frame's checksum as the encoder read it before the move. */
  readonly checksumBefore: number;
  /** The buffer's checksum as the display read it through its new mapping right after the move. */
  checksumAfter: number;
}

/** Everything one run of the pipeline did, as plain data. */
export interface CameraPipelineResult {
  readonly format: FrameFormat;
  readonly frameBytes: number;
  readonly framesBeforeHotplug: number;
  readonly framesAfterHotplug: number;
  readonly timings: StageTimings;
  readonly swiotlb: { readonly start: number; readonly end: number } | null;
  readonly devices: readonly DeviceSummary[];
  /** Each buffer as first negotiated, and at the end of the run. */
  readonly buffers: readonly {
    readonly name: string;
    readonly size: number;
    readonly attachers: readonly string[];
    readonly negotiated: BufferSnapshot;
    readonly final: BufferSnapshot;
  }[];
  readonly jobs: readonly JobRecord[];
  readonly frames: readonly FrameChecksums[];
  /** When the display was plugged in (ns). */
  readonly hotplugTime: number;
  /** Index in `jobs` of the first job queued after the display was plugged in. */
  readonly hotplugAtJob: number;
  readonly migrations: readonly MigrationReport[];
  /** What DMA debug found, and how many of its entries were still active after teardown. */
  readonly dmaDebug: { readonly findings: readonly DmaDebugFinding[]; readonly activeAfterTeardown: number };
}
