export type * from './cache-attr.js';
export type * from './cache-events.js';
export * from './cpu.js';
export * from './cpu-cache.js';
