export { type PlatformSummary, summarisePlatform } from './platform-summary.js';
export { formatDefaultReport } from './report.js';
export { type DefaultScenarioResult, runDefaultScenario } from './scenario.js';
