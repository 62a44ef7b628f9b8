export * from './fence/index.js';
export * from './resv/index.js';
