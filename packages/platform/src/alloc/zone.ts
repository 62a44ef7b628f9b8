import { alignDown, alignUp, ilog2, pow2 } from '../core/address.js';
import { F_NEXT, F_PREV, F_STATE, type MemMap, PAGE_FIELDS, SECTION_PAGES } from './mem-map.js';
import { MAX_ORDER_NR_PAGES, MAX_PAGE_ORDER } from './page-order.js';

/** The zones the model has: below 4 GiB (`ZONE_DMA32`) and above (`ZONE_NORMAL`), as /proc names them. */
export type ZoneName = 'DMA32' | 'Normal';

/** A range of page frames `[start, end)`. */
export interface PfnRange {
  readonly start: number;
  readonly end: number;
}

const SECTION_SHIFT = 9; // log2(SECTION_PAGES)
const SECTION_MASK = SECTION_PAGES - 1;
const NIL = -1;
/** Zone indices must fit the Int32 link fields. */
const MAX_SPAN = 2 ** 31;

/**
 * One zone of the buddy allocator (`struct zone` with its `free_area[]`, `mm/page_alloc.c`).
 *
 * Pages are named by a dense index relative to `basePfn`, which is aligned to MAX_ORDER_NR_PAGES, so
 * a block naturally aligned in the zone is also naturally aligned in physical memory and the buddy of
 * index `i` at order `n` is `i ^ 2^n` (`__find_buddy_pfn`, mm/internal.h). Indices stay below 2^31 (the
 * constructor checks), which keeps that XOR exact.
 *
 * Free lists are doubly linked through fields of the pages' `struct page` in the {@link MemMap}, so
 * taking or putting a block is O(1) and allocates nothing. Booting is cheap: max-order blocks nobody
 * has split yet are kept as ranges ("untouched") instead of list entries; only the partial blocks at
 * range edges are listed.
 */
export class Zone {
  /** First pfn of the zone's index space, aligned to MAX_ORDER_NR_PAGES. */
  readonly basePfn: number;
  /** Lowest managed pfn. */
  readonly startPfn: number;
  /** One past the highest managed pfn. */
  readonly endPfn: number;
  /** Pages the zone manages (`zone_managed_pages`). */
  readonly managedPages: number;
  /** Free blocks per order (`free_area[order].nr_free`), untouched max-order blocks included. */
  readonly nrFree = new Float64Array(MAX_PAGE_ORDER + 1);
  // The mem_map sections of the zone's span, by index >>> SECTION_SHIFT, cached on first use.
  private readonly sections: (Int32Array | undefined)[];
  private readonly heads = new Int32Array(MAX_PAGE_ORDER + 1).fill(NIL);
  // Flattened [firstBlock, endBlock) pairs of never-split max-order blocks, in address order; block
  // b covers indices [b * MAX_ORDER_NR_PAGES, (b + 1) * MAX_ORDER_NR_PAGES).
  private readonly untouched: number[] = [];
  private untouchedAt = 0;
  private untouchedBlocks = 0;

  /**
   * @param ranges the free page ranges of the zone, sorted, disjoint and not adjacent.
   * @throws RangeError when the zone spans 2^31 pages or more (8 TiB).
   */
  constructor(
    readonly name: ZoneName,
    ranges: readonly PfnRange[],
    private readonly memMap: MemMap,
  ) {
    const first = ranges[0];
    const last = ranges[ranges.length - 1];
    if (first === undefined || last === undefined) throw new RangeError(`zone ${name}: no free memory`);
    this.startPfn = first.start;
    this.endPfn = last.end;
    this.basePfn = alignDown(first.start, MAX_ORDER_NR_PAGES);
    const span = alignUp(last.end, MAX_ORDER_NR_PAGES) - this.basePfn;
    if (span >= MAX_SPAN) throw new RangeError(`zone ${name}: spans ${span} pages, 2^31 or more`);
    this.sections = new Array<Int32Array | undefined>(span / SECTION_PAGES);
    const edges: number[] = [];
    let managed = 0;
    for (const r of ranges) {
      const start = r.start - this.basePfn;
      const end = r.end - this.basePfn;
      managed += end - start;
      const fullStart = Math.min(alignUp(start, MAX_ORDER_NR_PAGES), end);
      const fullEnd = Math.max(alignDown(end, MAX_ORDER_NR_PAGES), fullStart);
      carveEdge(start, fullStart, edges);
      if (fullEnd > fullStart) {
        this.untouched.push(fullStart / MAX_ORDER_NR_PAGES, fullEnd / MAX_ORDER_NR_PAGES);
        this.untouchedBlocks += (fullEnd - fullStart) / MAX_ORDER_NR_PAGES;
      }
      carveEdge(fullEnd, end, edges);
    }
    this.managedPages = managed;
    this.nrFree[MAX_PAGE_ORDER] = this.untouchedBlocks;
    // Boot frees memory in address order to the tail of each list (FPI_TO_TAIL), so lists start at
    // their lowest block; pushing to the head from the top down gives the same order.
    for (let k = edges.length - 2; k >= 0; k -= 2) this.push(edges[k] as number, edges[k + 1] as number);
  }

  /**
   * Takes a block of `order` from the smallest non-empty list at or above it and splits off the upper
   * halves (`__rmqueue_smallest` + `expand`). Returns the block's index, or -1 when the zone has none.
   */
  allocSmallest(order: number): number {
    const heads = this.heads;
    for (let current = order; current <= MAX_PAGE_ORDER; current++) {
      const index = heads[current] as number;
      if (index !== NIL) {
        this.unlink(index, current);
        this.expand(index, order, current);
        return index;
      }
    }
    if (this.untouchedBlocks === 0) return -1;
    const index = this.takeUntouched();
    this.expand(index, order, MAX_PAGE_ORDER);
    return index;
  }

  /**
   * As {@link allocSmallest}, but only blocks whose first 2^order pages end at or below index `limit`
   * (exclusive) qualify: the smallest order with such a block wins, and its lowest part is returned.
   * Walks the lists, so it costs O(free blocks); it serves limits that cut through the zone.
   */
  allocBelow(order: number, limit: number): number {
    const need = pow2(order);
    for (let current = order; current <= MAX_PAGE_ORDER; current++) {
      for (let index = this.heads[current] as number; index !== NIL; index = this.next(index)) {
        if (index + need <= limit) {
          this.unlink(index, current);
          this.expand(index, order, current);
          return index;
        }
      }
    }
    if (this.untouchedBlocks === 0 || this.firstUntouched() + need > limit) return -1;
    const index = this.takeUntouched();
    this.expand(index, order, MAX_PAGE_ORDER);
    return index;
  }

  /**
   * Returns the block at `index` to the free lists, merging it with its buddy while the buddy is a
   * free block of the same order, up to MAX_PAGE_ORDER (`__free_one_page`).
   */
  free(index: number, order: number): void {
    let at = index;
    let current = order;
    while (current < MAX_PAGE_ORDER) {
      const buddy = at ^ (1 << current);
      const s = this.sections[buddy >>> SECTION_SHIFT];
      if (s === undefined || s[F_STATE + (buddy & SECTION_MASK) * PAGE_FIELDS] !== -(current + 1)) break;
      this.unlink(buddy, current);
      at = Math.min(at, buddy);
      current += 1;
    }
    this.push(at, current);
  }

  /** Free pages in the zone. */
  freePages(): number {
    let n = 0;
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) n += (this.nrFree[order] as number) * pow2(order);
    return n;
  }

  /** Highest order with a free block, or -1. */
  largestOrder(): number {
    for (let order = MAX_PAGE_ORDER; order >= 0; order--)
      if ((this.nrFree[order] as number) > 0) return order;
    return -1;
  }

  /** Free pages below index `limit`. */
  freePagesBelow(limit: number): number {
    let n = 0;
    this.forEachFree((index, order) => {
      n += Math.max(0, Math.min(pow2(order), limit - index));
    });
    return n;
  }

  /** Highest order an allocation whose pages must lie below index `limit` could get, or -1. */
  largestOrderBelow(limit: number): number {
    let best = -1;
    this.forEachFree((index, order) => {
      if (index < limit) best = Math.max(best, Math.min(order, ilog2(limit - index)));
    });
    return best;
  }

  private forEachFree(visit: (index: number, order: number) => void): void {
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      for (let index = this.heads[order] as number; index !== NIL; index = this.next(index))
        visit(index, order);
    }
    for (let k = this.untouchedAt; k < this.untouched.length; k += 2) {
      for (let b = this.untouched[k] as number; b < (this.untouched[k + 1] as number); b++) {
        visit(b * MAX_ORDER_NR_PAGES, MAX_PAGE_ORDER);
      }
    }
  }

  /** Splits the block at `index` from order `high` down to `low`, freeing the upper halves (`expand`). */
  private expand(index: number, low: number, high: number): void {
    for (let order = high - 1; order >= low; order--) this.push(index + (1 << order), order);
  }

  private firstUntouched(): number {
    return (this.untouched[this.untouchedAt] as number) * MAX_ORDER_NR_PAGES;
  }

  private takeUntouched(): number {
    const at = this.untouchedAt;
    const block = this.untouched[at] as number;
    if (block + 1 === this.untouched[at + 1]) this.untouchedAt = at + 2;
    else this.untouched[at] = block + 1;
    this.untouchedBlocks -= 1;
    this.nrFree[MAX_PAGE_ORDER] = (this.nrFree[MAX_PAGE_ORDER] as number) - 1;
    return block * MAX_ORDER_NR_PAGES;
  }

  private next(index: number): number {
    return (this.sections[index >>> SECTION_SHIFT] as Int32Array)[
      F_NEXT + (index & SECTION_MASK) * PAGE_FIELDS
    ] as number;
  }

  /** Puts a free block at the head of its list (`__add_to_free_list`). */
  private push(index: number, order: number): void {
    const i = (index & SECTION_MASK) * PAGE_FIELDS;
    const s = this.sections[index >>> SECTION_SHIFT] ?? this.cacheSection(index);
    const head = this.heads[order] as number;
    s[F_NEXT + i] = head;
    s[F_PREV + i] = NIL;
    s[F_STATE + i] = -(order + 1);
    if (head !== NIL) {
      (this.sections[head >>> SECTION_SHIFT] as Int32Array)[F_PREV + (head & SECTION_MASK) * PAGE_FIELDS] =
        index;
    }
    this.heads[order] = index;
    this.nrFree[order] = (this.nrFree[order] as number) + 1;
  }

  /** Takes a free block off its list (`__del_page_from_free_list`). */
  private unlink(index: number, order: number): void {
    const s = this.sections[index >>> SECTION_SHIFT] as Int32Array;
    const i = (index & SECTION_MASK) * PAGE_FIELDS;
    const next = s[F_NEXT + i] as number;
    const prev = s[F_PREV + i] as number;
    s[F_STATE + i] = 0;
    if (prev === NIL) this.heads[order] = next;
    else
      (this.sections[prev >>> SECTION_SHIFT] as Int32Array)[F_NEXT + (prev & SECTION_MASK) * PAGE_FIELDS] =
        next;
    if (next !== NIL) {
      (this.sections[next >>> SECTION_SHIFT] as Int32Array)[F_PREV + (next & SECTION_MASK) * PAGE_FIELDS] =
        prev;
    }
    this.nrFree[order] = (this.nrFree[order] as number) - 1;
  }

  private cacheSection(index: number): Int32Array {
    const s = this.memMap.sectionFor(this.basePfn + index);
    this.sections[index >>> SECTION_SHIFT] = s;
    return s;
  }
}

/**
 * Cuts `[start, end)` into the largest naturally aligned blocks, as `__free_pages_memory` frees boot
 * memory; appends (index, order) pairs to `out`.
 */
const carveEdge = (start: number, end: number, out: number[]): void => {
  for (let at = start; at < end; ) {
    let order = Math.min(MAX_PAGE_ORDER, ilog2(end - at));
    while (at % pow2(order) !== 0) order -= 1;
    out.push(at, order);
    at += pow2(order);
  }
};
