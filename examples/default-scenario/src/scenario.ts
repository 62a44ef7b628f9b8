import { createSystem } from '@sharedbuf/dma-buf';
import {
  type CameraPipelineResult,
  type ConflictVariantResult,
  checkCameraPipeline,
  type PipelineVerdict,
  runCameraPipeline,
  runConflictVariant,
} from '@sharedbuf/example-camera-pipeline';
import { type GpuPerMmResult, runGpuPerMm } from '@sharedbuf/example-gpu-per-mm';
import { armSmmu } from '@sharedbuf/iommu';
import { type PlatformSummary, summarisePlatform } from './platform-summary.js';

/** Everything the main job found, as plain data. */
export interface DefaultScenarioResult {
  readonly platform: PlatformSummary;
  readonly camera: CameraPipelineResult;
  readonly verdict: PipelineVerdict;
  readonly gpu: GpuPerMmResult;
  readonly conflict: ConflictVariantResult;
  /** Every IOMMU fault on the shared machine, in order. */
  readonly faults: readonly {
    device: string;
    iova: number;
    reason: string;
    handled: boolean;
    pasid: number;
  }[];
  /** DMA-debug findings on the shared machine (none for a correct pipeline). */
  readonly debugFindings: readonly string[];
  /** Simulated time when the run ended, in ns. */
  readonly simulatedNs: number;
  /** Events recorded across every layer. */
  readonly traceEvents: number;
}

/**
 * The main job: the default machine with one SMMU, on which the camera pipeline (camera → ISP →
 * encoder + a late display) and the GPU model (two processes, one address space each) run together;
 * then the pipeline's conflicting variant, which needs a machine of its own.
 */
export const runDefaultScenario = (): DefaultScenarioResult => {
  const sys = createSystem({ iommus: [armSmmu({ name: 'smmu0' })] });
  const recorder = sys.recorder();
  const camera = runCameraPipeline({ system: sys });
  const gpu = runGpuPerMm({ system: sys });
  const conflict = runConflictVariant();
  recorder.stop();
  return {
    platform: summarisePlatform(sys),
    camera,
    verdict: checkCameraPipeline(camera),
    gpu,
    conflict,
    faults: sys.iommu.faults.map((f) => ({
      device: f.device,
      iova: f.iova,
      reason: f.reason,
      handled: f.handled,
      pasid: f.pasid,
    })),
    debugFindings: sys.dma.debug.findings().map((f) => `${f.device}: ${f.message}`),
    simulatedNs: sys.platform.clock.now(),
    traceEvents: recorder.trace.length,
  };
};
