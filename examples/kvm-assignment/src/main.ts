import { formatKvmAssignmentReport, runKvmAssignment } from './index.js';

console.log(formatKvmAssignmentReport(runKvmAssignment()));
