export * from './buffer/index.js';
export * from './constraints/index.js';
export * from './fence/index.js';
export * from './heaps/index.js';
export * from './resv/index.js';
export * from './system.js';
