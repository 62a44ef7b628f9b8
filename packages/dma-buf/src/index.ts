export * from './fence/index.js';
export * from './resv/index.js';
export * from './constraints/index.js';
