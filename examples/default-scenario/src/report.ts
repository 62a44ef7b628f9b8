import { formatCameraPipelineReport, formatConflictVariantReport } from '@sharedbuf/example-camera-pipeline';
import { formatGpuPerMmReport } from '@sharedbuf/example-gpu-per-mm';
import { hex } from '@sharedbuf/platform';
import type { DefaultScenarioResult } from './scenario.js';

const banner = (title: string): string => `\n${'═'.repeat(100)}\n  ${title}\n${'═'.repeat(100)}`;

/** The main job's report: one readable document for a pipeline author who has never seen the code. */
export const formatDefaultReport = (r: DefaultScenarioResult): string => {
  const refused = r.faults.filter((f) => !f.handled);
  const v = r.verdict;
  return [
    'sharedbuf — the default scenario: a camera pipeline and a GPU sharing buffers on one machine',
    '',
    'Summary',
    `  camera pipeline: frames intact ${v.framesIntact ? 'yes' : 'NO'}, display attached late and the buffers migrated ${v.migrated ? 'yes' : 'NO'}, bytes preserved ${v.bytesPreserved ? 'yes' : 'NO'}, fences in order ${v.fencesOrdered ? 'yes' : 'NO'}`,
    `  GPU: ${r.gpu.contexts.length} processes, each with its own GPU address space (bus address = user address)`,
    `  GPU page faults: ${r.gpu.faults.served.length} served (untouched pages faulted in through the mm); IOMMU faults refused: ${refused.length} (expected: the isolation and munmap checks)`,
    `  DMA debug: ${r.debugFindings.length === 0 ? 'no findings' : `${r.debugFindings.length} finding(s)`}`,
    `  simulated time: ${(r.simulatedNs / 1e6).toFixed(3)} ms; ${r.traceEvents} events traced across every layer`,
    banner('The platform'),
    ...r.platform.lines.map((l) => `  ${l}`),
    banner('Camera → ISP → encoder + display'),
    formatCameraPipelineReport(r.camera),
    banner('The same pipeline when the constraints truly conflict'),
    formatConflictVariantReport(r.conflict),
    banner('GPU with one address space per process'),
    formatGpuPerMmReport(r.gpu),
    banner('Faults and DMA debug on the shared machine'),
    ...(refused.length === 0
      ? ['  no refused IOMMU faults']
      : refused.map(
          (f) =>
            `  refused: ${f.device} ${f.reason} at ${hex(f.iova)}${f.pasid >= 0 ? ` (PASID ${f.pasid})` : ''}`,
        )),
    ...(r.debugFindings.length === 0
      ? ['  DMA debug: no findings']
      : r.debugFindings.map((f) => `  DMA debug: ${f}`)),
  ].join('\n');
};
