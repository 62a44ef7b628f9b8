import { PAGE_SIZE } from '../core/address.js';

const FIRST_SLAB_PAGES = 16;
const MAX_SLAB_PAGES = 8192; // 32 MiB

/**
 * Backing bytes for resident pages. Each page gets a 4 KiB slot in a slab the first time it is
 * written; slabs grow geometrically (64 KiB up to 32 MiB) so a small model stays small and a large
 * one amortises, and the OS commits a slab's pages only as they are touched. Every resident page
 * keeps a ready-made view, so copying whole pages allocates nothing.
 */
export class PageStore {
  private readonly views: Uint8Array[] = [];
  private slab = new Uint8Array(0);
  private slabUsed = 0;

  /** Number of pages that hold data. */
  get residentPages(): number {
    return this.views.length;
  }

  /** Creates a zeroed page and returns its slot. */
  allocate(): number {
    if (this.slabUsed * PAGE_SIZE === this.slab.length) {
      const pages = Math.min(MAX_SLAB_PAGES, Math.max(FIRST_SLAB_PAGES, (this.slab.length / PAGE_SIZE) * 2));
      this.slab = new Uint8Array(pages * PAGE_SIZE);
      this.slabUsed = 0;
    }
    const offset = this.slabUsed * PAGE_SIZE;
    this.slabUsed += 1;
    this.views.push(this.slab.subarray(offset, offset + PAGE_SIZE));
    return this.views.length - 1;
  }

  /** The 4 KiB view of a slot. */
  view(slot: number): Uint8Array {
    return this.views[slot] as Uint8Array;
  }
}
