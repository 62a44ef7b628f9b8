export { DmaDirection, sgDmaSegments } from '@sharedbuf/dma-mapping';
export { createSystem, satisfies } from '../src/index.js';
