import type { BounceDirection } from './events.js';

/** Bounce counts of one device, or of the whole pool. */
export interface SwiotlbBounceCounts {
  /** Successful `mapSingle` calls. */
  readonly maps: number;
  /** Copies original → bounce buffer (at every map, whatever the direction, and at `syncForDevice`). */
  readonly bouncesIn: number;
  /** Copies bounce buffer → original (at unmap and `syncForCpu`). */
  readonly bouncesOut: number;
  /** Bytes copied into the pool. */
  readonly bytesIn: number;
  /** Bytes copied out of the pool. */
  readonly bytesOut: number;
}

/** A snapshot of the pool, as debugfs `swiotlb/` shows it plus the model's bounce counters. */
export interface SwiotlbStats extends SwiotlbBounceCounts {
  /** Slots in the pool (`io_tlb_nslabs`). */
  readonly nslabs: number;
  /** Slots in use (`io_tlb_used`). */
  readonly used: number;
  /** Most slots ever in use at once since the last reset (`io_tlb_used_hiwater`). */
  readonly highWater: number;
  /** Live bounce buffers. */
  readonly mappings: number;
  /** Mappings refused because no slots fit (`swiotlb buffer is full`); counting is all a refusal changes. */
  readonly fullCount: number;
}

/** Mutable {@link SwiotlbBounceCounts}; bumping a counter allocates nothing. */
export class BounceCounters implements SwiotlbBounceCounts {
  maps = 0;
  bouncesIn = 0;
  bouncesOut = 0;
  bytesIn = 0;
  bytesOut = 0;

  /** Counts one copy of `bytes` bytes. */
  bounced(direction: BounceDirection, bytes: number): void {
    if (direction === 'to-pool') {
      this.bouncesIn += 1;
      this.bytesIn += bytes;
    } else {
      this.bouncesOut += 1;
      this.bytesOut += bytes;
    }
  }

  /** A frozen copy, for reports. */
  snapshot(): SwiotlbBounceCounts {
    const { maps, bouncesIn, bouncesOut, bytesIn, bytesOut } = this;
    return Object.freeze({ maps, bouncesIn, bouncesOut, bytesIn, bytesOut });
  }
}
