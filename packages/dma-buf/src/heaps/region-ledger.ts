import type { FreeRange } from '../constraints/described-heap.js';
import { subtractRanges } from './range-set.js';

/**
 * The blocks a contiguous heap holds in its region, by base address. The CMA and carveout
 * allocators can say how much of a region is used but not where (their bitmaps are private), so a
 * heap that is the region's only user knows its free ranges from this ledger; the heap checks that
 * it is the only user by comparing the ledger's total with the allocator's.
 * @internal for the heaps of this folder.
 */
export class RegionLedger {
  private readonly taken = new Map<number, number>();
  private bytes = 0;

  /** Bytes of all recorded blocks. */
  get takenBytes(): number {
    return this.bytes;
  }

  /** Records a block the heap handed out. */
  add(base: number, size: number): void {
    this.taken.set(base, size);
    this.bytes += size;
  }

  /** Forgets the block at `base` (a no-op for an unknown base). */
  remove(base: number): void {
    this.bytes -= this.taken.get(base) ?? 0;
    this.taken.delete(base);
  }

  /** `region` minus the recorded blocks, in address order. */
  freeIn(region: FreeRange): FreeRange[] {
    return subtractRanges(
      [region],
      [...this.taken].map(([base, size]) => ({ base, size })),
    );
  }
}
