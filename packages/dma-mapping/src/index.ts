export * from './debug/index.js';
