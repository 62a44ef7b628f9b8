import { formatTegraNvMapReport, runTegraNvMap } from './index.js';

console.log(formatTegraNvMapReport(runTegraNvMap()));
