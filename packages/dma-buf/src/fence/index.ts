export * from './dma-fence.js';
export * from './dma-fence-array.js';
export * from './dma-fence-chain.js';
export * from './dma-fence-unwrap.js';
export * from './events.js';
export * from './fence-domain.js';
export * from './fence-order.js';
export * from './fence-wait.js';
