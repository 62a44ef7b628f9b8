export * from './core/address.js';
export * from './core/clock.js';
export * from './core/dma-mask.js';
export * from './core/errno.js';
export * from './core/event-bus.js';
export * from './core/kernel-error.js';
export * from './core/rng.js';
export * from './core/trace-recorder.js';
