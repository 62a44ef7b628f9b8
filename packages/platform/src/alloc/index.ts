export * from './carveout.js';
export * from './contiguous-allocator.js';
export type * from './memory-events.js';
export * from './page-allocator.js';
export { PageMetadata, type ReleaseStatus } from './page-metadata.js';
export * from './page-order.js';
export type * from './reserved-region.js';
export type { ZoneName } from './zone.js';
