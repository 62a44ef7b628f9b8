export * from './device.js';
export * from './device-config.js';
export type * from './device-events.js';
export type * from './device-iommu-slot.js';
export * from './device-registry.js';
export * from './direct-translation.js';
export * from './dma-parms.js';
export type * from './dma-translation.js';
