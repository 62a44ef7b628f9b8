import { DmaAttr, hasAttr } from '../attrs.js';

/** `DMA_ATTR_SKIP_CPU_SYNC`: the bit DMA debug reads (see `DmaAttr`). */
export const DMA_ATTR_SKIP_CPU_SYNC = DmaAttr.SKIP_CPU_SYNC;

/** True when `attrs` carries `DMA_ATTR_SKIP_CPU_SYNC`. */
export const hasSkipCpuSync = (attrs: number): boolean => hasAttr(attrs, DMA_ATTR_SKIP_CPU_SYNC);
