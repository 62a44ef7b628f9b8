export * from './dma-resv.js';
export * from './usage.js';
export * from './ww-mutex.js';
