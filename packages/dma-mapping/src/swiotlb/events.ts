import type { DmaDirection } from '../debug/direction.js';

/** Which way a bounce copied: `to-pool` = original → bounce buffer, `from-pool` = back. */
export type BounceDirection = 'to-pool' | 'from-pool';

/**
 * The events of a `Swiotlb` bus (trace source `swiotlb`): a bounce buffer was mapped or unmapped,
 * bytes were bounced, or a mapping failed because no slots fit (`swiotlb buffer is full`) or the
 * slots found lie beyond the device's reach (the `swiotlb addr … overflow` warning of `swiotlb_map`).
 */
export type SwiotlbEvents = {
  map: {
    device: string;
    orig: number;
    tlb: number;
    size: number;
    dir: DmaDirection;
    slot: number;
    nslots: number;
  };
  unmap: {
    device: string;
    orig: number;
    tlb: number;
    size: number;
    dir: DmaDirection;
    slot: number;
    nslots: number;
  };
  bounce: { direction: BounceDirection; device: string; orig: number; tlb: number; bytes: number };
  /** `warn` is false when the caller passed `DMA_ATTR_NO_WARN`, which silences the kernel's warning. */
  full: {
    device: string;
    orig: number;
    size: number;
    allocSize: number;
    nslabs: number;
    used: number;
    longestFreeRun: number;
    warn: boolean;
  };
  unreachable: { device: string; tlb: number; dmaAddr: number; size: number; limit: number };
  'hiwater-reset': { previous: number };
};
