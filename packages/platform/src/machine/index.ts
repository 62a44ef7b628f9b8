export * from './machine-config.js';
export * from './platform.js';
