import type { Device } from '@sharedbuf/platform';
import type { CpuView, DmaChunk } from './cpu-view.js';

/** Where an allocation's pages came from, so that freeing returns them there. */
export type DmaBacking =
  | { readonly kind: 'buddy'; readonly order: number }
  | { readonly kind: 'cma'; readonly region: string };

/**
 * A buffer from `dma_alloc_attrs` (coherent) or `dma_alloc_noncoherent`: its DMA address for the
 * device, its pages, and its CPU view — none with `DMA_ATTR_NO_KERNEL_MAPPING` (seed 002: memory
 * mapped into the device without a permanent kernel mapping).
 */
export interface DmaAllocation {
  readonly device: Device;
  readonly size: number;
  readonly dmaAddr: number;
  readonly chunks: readonly DmaChunk[];
  readonly backing: readonly DmaBacking[];
  readonly cpu: CpuView | undefined;
  readonly kind: 'coherent' | 'noncoherent';
  readonly attrs: number;
}
