export { BufferImport, type ImportOptions, type MoveNotice } from './buffer-import.js';
export type { BufferSnapshot, DeviceView, Placement } from './buffer-view.js';
export { crc32, formatCrc } from './checksum.js';
export { type ConflictVariantOptions, type ConflictVariantResult, runConflictVariant } from './conflict.js';
export { formatConflictVariantReport } from './conflict-report.js';
export {
  buildPipelineMachine,
  DISPLAY_EXTRAS,
  ENCODER_WINDOW,
  PIPELINE_DEVICES,
  type PipelineMachine,
} from './devices.js';
export type { FenceWaitRecord, JobRecord } from './engine.js';
export { type FrameFormat, frameBytes, ispTransform, paintTestPattern } from './frame.js';
export { DEFAULT_FORMAT, runCameraPipeline } from './pipeline.js';
export { checkCameraPipeline, frameIntact, type PipelineVerdict } from './pipeline-checks.js';
export { formatCameraPipelineReport } from './pipeline-report.js';
export type * from './pipeline-result.js';
export { STAGE_TIMINGS } from './pipeline-run.js';
