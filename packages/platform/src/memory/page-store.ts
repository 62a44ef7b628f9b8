import { PAGE_SIZE } from '../core/address.js';

const SLAB_PAGES = 8192; // 32 MiB slabs: large enough to amortise, small enough to stay sparse
const SLAB_SHIFT = 13;

/**
 * Backing bytes for resident pages. Each page gets a 4 KiB slot in a lazily created slab the first
 * time it is written; the slab's untouched parts are never committed by the OS, so memory stays
 * sparse. Every resident page keeps a ready-made view, so copying whole pages allocates nothing.
 */
export class PageStore {
  private readonly slabs: Uint8Array[] = [];
  private readonly views: Uint8Array[] = [];

  /** Number of pages that hold data. */
  get residentPages(): number {
    return this.views.length;
  }

  /** Creates a zeroed page and returns its slot. */
  allocate(): number {
    const slot = this.views.length;
    const slabIndex = slot >>> SLAB_SHIFT;
    let slab = this.slabs[slabIndex];
    if (slab === undefined) {
      slab = new Uint8Array(SLAB_PAGES * PAGE_SIZE);
      this.slabs.push(slab);
    }
    const offset = (slot & (SLAB_PAGES - 1)) * PAGE_SIZE;
    this.views.push(slab.subarray(offset, offset + PAGE_SIZE));
    return slot;
  }

  /** The 4 KiB view of a slot. */
  view(slot: number): Uint8Array {
    return this.views[slot] as Uint8Array;
  }
}
