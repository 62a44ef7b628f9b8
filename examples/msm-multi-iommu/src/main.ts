import { formatMsmMultiIommuReport, runMsmMultiIommu } from './index.js';

console.log(formatMsmMultiIommuReport(runMsmMultiIommu()));
