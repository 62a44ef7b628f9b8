import { hex, pow2 } from '../core/address.js';
import type { EventBus } from '../core/event-bus.js';
import { fail, type KResult, ok } from '../core/kernel-error.js';
import type { PhysicalMemory } from '../memory/physical-memory.js';
import { F_PINCOUNT, F_REFCOUNT, F_STATE, MemMap } from './mem-map.js';
import type { MemoryEvents } from './memory-events.js';
import { MAX_PAGE_ORDER } from './page-order.js';

// State word of an allocated block's first page: owner id * 16 + order + 1 (see F_STATE).
const ORDER_FIELD = 16;
const MAX_OWNERS = 2 ** 27 - 1;
const OK: KResult<void> = ok(undefined);

/**
 * Whether an owner may take a block back: `'ok'`, `'not-allocated'` (no block of that order and owner
 * starts there), `'pinned'` (some pin holds it) or `'shared'` (other references hold it).
 */
export type ReleaseStatus = 'ok' | 'not-allocated' | 'pinned' | 'shared';

/**
 * The allocator a block came from, called back when the block's last reference goes (the `put_page`
 * that reaches zero frees the page to where it came from).
 */
export interface PageOwner {
  /** Takes back the block at `pfn`; its counters are already cleared. */
  releaseBlock(pfn: number, order: number): void;
}

/**
 * The `struct page` counters of allocated pages: the reference count (`page_ref_count`) and the
 * `FOLL_PIN` pin count (`folio_maybe_dma_pinned`). A block of order > 0 is one compound page (a
 * folio): every counter operation on any of its pages acts on the block, as `page_folio` does.
 *
 * A block starts with one reference, its allocator's. A pin also holds a reference (FOLL_PIN takes one;
 * the kernel adds `GUP_PIN_COUNTING_BIAS` for small folios, the model always adds 1). When the last
 * reference goes, the block returns to the allocator it came from.
 *
 * The counters live in the sparse `mem_map` ({@link MemMap}): nothing is sized per page of RAM at
 * construction.
 */
export class PageMetadata {
  /**
   * The `struct page` array the counters live in; the buddy allocator keeps its free lists there too.
   * @internal for the allocators of this package.
   */
  readonly memMap: MemMap;
  private readonly owners: PageOwner[] = [];
  private allocated = 0;
  // Scratch results of the last head lookup, so hot paths return two values without allocating.
  private slot = 0;
  private head = 0;

  /** @param bus the memory bus, for page-get, page-put, pin and unpin events. */
  constructor(
    memory: PhysicalMemory,
    private readonly bus: EventBus<MemoryEvents>,
  ) {
    this.memMap = new MemMap(memory.banks);
  }

  /** Pages in allocated blocks, over every owner. */
  get allocatedPages(): number {
    return this.allocated;
  }

  /** The reference count of the block holding `pfn` (`folio_ref_count`); 0 when not allocated. */
  refcount(pfn: number): number {
    const s = this.headSection(pfn);
    return s === undefined ? 0 : (s[F_REFCOUNT + this.slot] as number);
  }

  /** The pin count of the block holding `pfn` (`folio_maybe_dma_pinned` when > 0); 0 when not allocated. */
  pincount(pfn: number): number {
    const s = this.headSection(pfn);
    return s === undefined ? 0 : (s[F_PINCOUNT + this.slot] as number);
  }

  /** The first pfn of the allocated block holding `pfn` (`compound_head`), or -1 when not allocated. */
  compoundHead(pfn: number): number {
    return this.headSection(pfn) === undefined ? -1 : this.head;
  }

  /** The order of the allocated block holding `pfn` (`compound_order`), or -1 when not allocated. */
  compoundOrder(pfn: number): number {
    const s = this.headSection(pfn);
    return s === undefined ? -1 : ((s[F_STATE + this.slot] as number) % ORDER_FIELD) - 1;
  }

  /** `get_page`: takes a reference on the block holding `pfn`. EINVAL when `pfn` is not allocated. */
  getPage(pfn: number): KResult<void> {
    const s = this.headSection(pfn);
    if (s === undefined) return this.notAllocated('get_page', pfn);
    const i = this.slot;
    const refcount = (s[F_REFCOUNT + i] as number) + 1;
    s[F_REFCOUNT + i] = refcount;
    if (this.bus.active) this.bus.emit('page-get', { pfn, refcount });
    return OK;
  }

  /**
   * `put_page`: drops a reference on the block holding `pfn`; the last one frees the block to its
   * allocator. EINVAL when `pfn` is not allocated, or when every remaining reference belongs to a pin
   * (the caller holds none: it must `unpin`).
   */
  putPage(pfn: number): KResult<void> {
    const s = this.headSection(pfn);
    if (s === undefined) return this.notAllocated('put_page', pfn);
    const i = this.slot;
    const head = this.head;
    const refcount = (s[F_REFCOUNT + i] as number) - 1;
    const pincount = s[F_PINCOUNT + i] as number;
    if (refcount < pincount) {
      return fail(
        'EINVAL',
        `put_page on pfn ${hex(pfn)} would drop a reference held by one of its ${pincount} pins: unpin it instead`,
        { pfn, refcount: refcount + 1, pincount },
      );
    }
    s[F_REFCOUNT + i] = refcount;
    if (this.bus.active) this.bus.emit('page-put', { pfn, refcount });
    if (refcount === 0) this.releaseLast(s, i, head);
    return OK;
  }

  /**
   * Pins the block holding `pfn` for DMA, as `pin_user_pages` does with `FOLL_PIN`: the pin count and
   * the reference count both rise by one. EINVAL when `pfn` is not allocated.
   */
  pin(pfn: number): KResult<void> {
    const s = this.headSection(pfn);
    if (s === undefined) return this.notAllocated('pin_user_pages', pfn);
    const i = this.slot;
    const pincount = (s[F_PINCOUNT + i] as number) + 1;
    s[F_PINCOUNT + i] = pincount;
    s[F_REFCOUNT + i] = (s[F_REFCOUNT + i] as number) + 1;
    if (this.bus.active) this.bus.emit('pin', { pfn, pincount });
    return OK;
  }

  /**
   * `unpin_user_page`: drops one pin and its reference; if that was the last reference the block is
   * freed. EINVAL when `pfn` is not allocated or not pinned.
   */
  unpin(pfn: number): KResult<void> {
    const s = this.headSection(pfn);
    if (s === undefined) return this.notAllocated('unpin_user_page', pfn);
    const i = this.slot;
    const head = this.head;
    const pincount = (s[F_PINCOUNT + i] as number) - 1;
    if (pincount < 0) {
      return fail('EINVAL', `unpin_user_page: pfn ${hex(pfn)} is not pinned`, { pfn, pincount: 0 });
    }
    s[F_PINCOUNT + i] = pincount;
    const refcount = (s[F_REFCOUNT + i] as number) - 1;
    s[F_REFCOUNT + i] = refcount;
    if (this.bus.active) this.bus.emit('unpin', { pfn, pincount });
    if (refcount === 0) this.releaseLast(s, i, head);
    return OK;
  }

  /** True when every page of `[pfn, pfn + count)` is RAM, so it can carry counters. */
  covers(pfn: number, count: number): boolean {
    return this.memMap.covers(pfn, count);
  }

  /**
   * Registers an allocator that hands out blocks with counters; returns its owner id.
   * @internal for the allocators of this package.
   */
  registerOwner(owner: PageOwner): number {
    if (this.owners.length >= MAX_OWNERS) throw new RangeError('PageMetadata: too many page owners');
    return this.owners.push(owner);
  }

  /**
   * Marks `[pfn, pfn + 2^order)` allocated by `owner`, with one reference and no pin.
   * @internal for the allocators of this package.
   * @throws RangeError when `pfn` is not RAM (an allocator bug).
   */
  markAllocated(pfn: number, order: number, owner: number): void {
    const s = this.memMap.sectionFor(pfn);
    const i = this.memMap.slot;
    s[F_REFCOUNT + i] = 1;
    s[F_PINCOUNT + i] = 0;
    s[F_STATE + i] = owner * ORDER_FIELD + order + 1;
    this.allocated += 1 << order; // order ≤ MAX_PAGE_ORDER: the shift is exact
  }

  /**
   * Whether `owner` may take back its block of `order` at `pfn` now: it must be the block's only
   * holder. Changes nothing.
   * @internal for the allocators of this package.
   */
  releaseStatus(pfn: number, order: number, owner: number): ReleaseStatus {
    return this.statusOf(this.memMap.lookup(pfn), order, owner);
  }

  /**
   * Clears the block at `pfn` if {@link releaseStatus} allows it, and says which status applied.
   * @internal for the allocators of this package.
   */
  release(pfn: number, order: number, owner: number): ReleaseStatus {
    const s = this.memMap.lookup(pfn);
    const status = this.statusOf(s, order, owner);
    if (status === 'ok') {
      (s as Int32Array)[F_STATE + this.memMap.slot] = 0;
      this.allocated -= 1 << order;
    }
    return status;
  }

  private statusOf(s: Int32Array | undefined, order: number, owner: number): ReleaseStatus {
    const i = this.memMap.slot;
    if (s === undefined || s[F_STATE + i] !== owner * ORDER_FIELD + order + 1) return 'not-allocated';
    if ((s[F_PINCOUNT + i] as number) > 0) return 'pinned';
    return s[F_REFCOUNT + i] === 1 ? 'ok' : 'shared';
  }

  private releaseLast(s: Int32Array, i: number, head: number): void {
    const word = s[F_STATE + i] as number;
    const order = (word % ORDER_FIELD) - 1;
    s[F_STATE + i] = 0;
    this.allocated -= 1 << order;
    (this.owners[Math.floor(word / ORDER_FIELD) - 1] as PageOwner).releaseBlock(head, order);
  }

  /**
   * The section holding the head of the allocated block that contains `pfn`, with `slot` and `head`
   * set; `undefined` when no allocated block contains it. A block of order k containing `pfn` starts
   * at `pfn` rounded down to 2^k, so at most MAX_PAGE_ORDER + 1 candidates are looked at.
   */
  private headSection(pfn: number): Int32Array | undefined {
    if (!Number.isSafeInteger(pfn) || pfn < 0) return undefined;
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const candidate = pfn - (pfn % pow2(order));
      const s = this.memMap.lookup(candidate);
      if (s === undefined) continue;
      const word = s[F_STATE + this.memMap.slot] as number;
      if (word > 0 && (word % ORDER_FIELD) - 1 >= order) {
        this.head = candidate;
        this.slot = this.memMap.slot;
        return s;
      }
    }
    return undefined;
  }

  private notAllocated(op: string, pfn: number): KResult<never> {
    return fail('EINVAL', `${op}: pfn ${hex(pfn)} is not in an allocated page`, { op, pfn });
  }
}
