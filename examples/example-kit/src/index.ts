export { cpuWriteClean, deviceReadText } from './device-io.js';
export { section, size, table } from './format.js';
export { expectRefusal, type Refusal } from './refusal.js';
