import {
  formatCameraPipelineReport,
  formatConflictVariantReport,
  runCameraPipeline,
  runConflictVariant,
} from './index.js';

console.log(formatCameraPipelineReport(runCameraPipeline()));
console.log();
console.log(formatConflictVariantReport(runConflictVariant()));
