import { hex, PAGE_SIZE, pow2 } from '../core/address.js';
import type { EventBus } from '../core/event-bus.js';
import { fail, type KResult, ok, unwrap } from '../core/kernel-error.js';
import type { PhysicalMemory } from '../memory/physical-memory.js';
import type { MemoryEvents } from './memory-events.js';
import { PageMetadata, type PageOwner, type ReleaseStatus } from './page-metadata.js';
import { isPageOrder, MAX_PAGE_ORDER } from './page-order.js';
import type { PhysRange } from './reserved-region.js';
import { type PfnRange, Zone, type ZoneName } from './zone.js';

/** First pfn above ZONE_DMA32: 4 GiB. */
const DMA32_END_PFN = 2 ** 20;
const OK: KResult<void> = ok(undefined);

/** Options of {@link PageAllocator.allocPages}: the GFP flags the model knows. */
export interface AllocPagesOptions {
  /**
   * Highest physical address the block may reach: its last byte must be at or below it (a zone or
   * DMA limit; `GFP_DMA32` is `0xffff_ffff`). No limit when absent.
   */
  readonly maxAddress?: number | undefined;
  /** Zero the block's bytes (`__GFP_ZERO`). */
  readonly zeroed?: boolean | undefined;
}

/** Options of the {@link PageAllocator} constructor. */
export interface PageAllocatorOptions {
  /**
   * Ranges the allocator must never hand out (`memblock_reserve`d: CMA regions, carveouts, firmware).
   * Partial pages are excluded whole.
   */
  readonly exclude?: readonly PhysRange[] | undefined;
  /** The page counters to record allocations in; share one with CMA regions. A new one by default. */
  readonly pages?: PageMetadata | undefined;
  /**
   * How `zeroed` blocks are cleared. By default the zeros go straight to memory; a machine with a
   * CPU cache passes its `clear_page`, which also drops the last user's stale lines.
   */
  readonly clear?: ((addr: number, length: number) => void) | undefined;
}

/** Free blocks per order of one zone, as a line of `/proc/buddyinfo`. */
export interface ZoneBuddyInfo {
  readonly zone: ZoneName;
  /** `free[order]` = number of free blocks of that order. */
  readonly free: readonly number[];
}

/**
 * The buddy page allocator (`mm/page_alloc.c`): every RAM bank of a {@link PhysicalMemory}, minus the
 * excluded ranges, in blocks of 2^order pages for orders 0..{@link MAX_PAGE_ORDER}. An allocation
 * takes the smallest free block that fits and splits it; a free merges the block with its buddy as
 * long as the buddy is free too.
 *
 * Memory is split into two zones at 4 GiB, ZONE_DMA32 and ZONE_NORMAL. Like the kernel's zonelist, an
 * allocation tries the highest zone its limit admits first and falls back to lower ones.
 *
 * Every block handed out is recorded in {@link pages} with one reference, and returns here when its
 * last reference goes.
 */
export class PageAllocator {
  /** The `struct page` counters of allocated blocks. */
  readonly pages: PageMetadata;
  // Highest zone first, as the zonelist is walked.
  private readonly zonelist: readonly Zone[];
  private readonly ownerId: number;
  private readonly clear: (addr: number, length: number) => void;

  /**
   * @param bus the memory bus, for page-alloc and page-free events.
   * @throws RangeError when a zone would span 2^31 pages (8 TiB) or more (a machine description bug).
   */
  constructor(
    readonly memory: PhysicalMemory,
    private readonly bus: EventBus<MemoryEvents>,
    options: PageAllocatorOptions = {},
  ) {
    this.pages = options.pages ?? new PageMetadata(memory, bus);
    this.clear = options.clear ?? ((addr, length) => unwrap(memory.fill(addr, 0, length)));
    const owner: PageOwner = { releaseBlock: (pfn, order) => this.release(pfn, order) };
    this.ownerId = this.pages.registerOwner(owner);
    const free = freeRanges(memory, options.exclude ?? []);
    const zones: Zone[] = [];
    const normal = clipRanges(free, DMA32_END_PFN, Number.MAX_SAFE_INTEGER);
    const dma32 = clipRanges(free, 0, DMA32_END_PFN);
    if (normal.length > 0) zones.push(new Zone('Normal', normal, this.pages.memMap));
    if (dma32.length > 0) zones.push(new Zone('DMA32', dma32, this.pages.memMap));
    this.zonelist = zones;
  }

  /** Pages the allocator manages, free or not. */
  get managedPages(): number {
    return this.zonelist.reduce((n, z) => n + z.managedPages, 0);
  }

  /**
   * `alloc_pages(gfp, order)`: a block of 2^order pages, naturally aligned, entirely at or below
   * `maxAddress`. Returns its first pfn; the block has one reference (free it with
   * {@link freePages} or drop the last reference with `pages.putPage`).
   *
   * Errors: EINVAL for an order outside 0..10 or a negative or NaN `maxAddress`; ENOMEM when no free
   * block fits, with detail `{order, maxAddress, largestFreeOrder}` (`maxAddress` null when unlimited,
   * `largestFreeOrder` -1 when nothing is free below the limit).
   */
  allocPages(order: number, options?: AllocPagesOptions): KResult<number> {
    if (!isPageOrder(order)) {
      return fail('EINVAL', `page order ${order} is not an integer in 0..${MAX_PAGE_ORDER}`, { order });
    }
    const maxAddress = options?.maxAddress;
    if (maxAddress !== undefined && !(maxAddress >= 0)) {
      return fail('EINVAL', `maximum address ${maxAddress} is not a non-negative address`, { maxAddress });
    }
    const pfn = this.tryAllocPages(order, maxAddress, options?.zeroed === true);
    if (pfn < 0) return this.enomem(order, maxAddress);
    return ok(pfn);
  }

  /**
   * {@link allocPages} for hot paths: no result object, -1 when no block fits. Emits the same event.
   * @throws RangeError for an order outside 0..10 (a caller bug).
   */
  tryAllocPages(order: number, maxAddress?: number, zeroed = false): number {
    if (!isPageOrder(order))
      throw new RangeError(`page order ${order} is not an integer in 0..${MAX_PAGE_ORDER}`);
    const limit =
      maxAddress === undefined ? Number.POSITIVE_INFINITY : Math.floor((maxAddress + 1) / PAGE_SIZE);
    const zones = this.zonelist;
    for (let z = 0; z < zones.length; z++) {
      const zone = zones[z] as Zone;
      let index: number;
      if (zone.endPfn <= limit) index = zone.allocSmallest(order);
      else if (zone.startPfn + pow2(order) <= limit) index = zone.allocBelow(order, limit - zone.basePfn);
      else continue;
      if (index >= 0) return this.handOut(zone.basePfn + index, order, zeroed);
    }
    return -1;
  }

  /**
   * `__free_pages(page, order)`: returns the block of `order` at `pfn`. The model asks that the caller
   * hold its only reference: where the kernel would merely drop one reference of a page others still
   * hold, this refuses, so that a free which would not free is seen. Shared holders drop theirs with
   * `pages.putPage`.
   *
   * Errors: EINVAL when no block of that order was allocated here at `pfn` (a double free, a wrong
   * order, a tail page); EBUSY when the block is pinned (the model's rule: freeing memory a device may
   * still be accessing is refused) or when other references to it remain. A failed call changes nothing.
   */
  freePages(pfn: number, order: number): KResult<void> {
    if (!isPageOrder(order)) {
      return fail('EINVAL', `page order ${order} is not an integer in 0..${MAX_PAGE_ORDER}`, { pfn, order });
    }
    const status = this.pages.release(pfn, order, this.ownerId);
    if (status !== 'ok') return this.freeError(status, pfn, order);
    this.release(pfn, order);
    return OK;
  }

  /** Free pages whose bytes all lie at or below `maxAddress` (all free pages when absent). */
  freePageCount(maxAddress?: number): number {
    const limit =
      maxAddress === undefined ? Number.POSITIVE_INFINITY : Math.floor((maxAddress + 1) / PAGE_SIZE);
    let n = 0;
    for (const zone of this.zonelist) {
      if (zone.endPfn <= limit) n += zone.freePages();
      else if (zone.startPfn < limit) n += zone.freePagesBelow(limit - zone.basePfn);
    }
    return n;
  }

  /** The highest order {@link allocPages} would satisfy under `maxAddress` now, or -1 when none. */
  largestFreeOrder(maxAddress?: number): number {
    const limit =
      maxAddress === undefined ? Number.POSITIVE_INFINITY : Math.floor((maxAddress + 1) / PAGE_SIZE);
    let best = -1;
    for (const zone of this.zonelist) {
      if (zone.endPfn <= limit) best = Math.max(best, zone.largestOrder());
      else if (zone.startPfn < limit) best = Math.max(best, zone.largestOrderBelow(limit - zone.basePfn));
    }
    return best;
  }

  /** Free blocks per order and zone, lowest zone first, as `/proc/buddyinfo` shows them. */
  buddyInfo(): ZoneBuddyInfo[] {
    return [...this.zonelist].reverse().map((z) => ({ zone: z.name, free: Array.from(z.nrFree) }));
  }

  private handOut(pfn: number, order: number, zeroed: boolean): number {
    this.pages.markAllocated(pfn, order, this.ownerId);
    if (zeroed) this.clear(pfn * PAGE_SIZE, pow2(order) * PAGE_SIZE);
    if (this.bus.active) this.bus.emit('page-alloc', { pfn, order });
    return pfn;
  }

  /** Puts a block whose counters are already cleared back on the free lists. */
  private release(pfn: number, order: number): void {
    const zone = this.zoneOf(pfn);
    zone.free(pfn - zone.basePfn, order);
    if (this.bus.active) this.bus.emit('page-free', { pfn, order });
  }

  private zoneOf(pfn: number): Zone {
    const zones = this.zonelist;
    for (let z = 0; z < zones.length; z++) {
      const zone = zones[z] as Zone;
      if (pfn >= zone.startPfn) return zone;
    }
    throw new RangeError(`pfn ${hex(pfn)} is below every zone`);
  }

  private enomem(order: number, maxAddress: number | undefined): KResult<never> {
    const largestFreeOrder = this.largestFreeOrder(maxAddress);
    const where = maxAddress === undefined ? '' : ` ending at or below ${hex(maxAddress)}`;
    const largest =
      largestFreeOrder < 0
        ? 'nothing is free there'
        : `the largest free block there is order ${largestFreeOrder}`;
    return fail('ENOMEM', `no free block of order ${order} (${pow2(order) * 4} KiB)${where}: ${largest}`, {
      order,
      maxAddress: maxAddress ?? null,
      largestFreeOrder,
    });
  }

  private freeError(status: ReleaseStatus, pfn: number, order: number): KResult<never> {
    const pages = this.pages;
    if (status === 'pinned') {
      const pincount = pages.pincount(pfn);
      return fail(
        'EBUSY',
        `the order-${order} block at pfn ${hex(pfn)} is pinned ${pincount} times: unpin it first`,
        {
          pfn,
          order,
          pincount,
        },
      );
    }
    if (status === 'shared') {
      const refcount = pages.refcount(pfn);
      return fail(
        'EBUSY',
        `the order-${order} block at pfn ${hex(pfn)} still has ${refcount - 1} other references: drop them with putPage`,
        { pfn, order, refcount },
      );
    }
    const head = pages.compoundHead(pfn);
    const allocatedOrder = pages.compoundOrder(pfn);
    const why =
      head < 0
        ? 'it is not allocated (a double free?)'
        : head !== pfn
          ? `it is inside the order-${allocatedOrder} block at ${hex(head)}`
          : allocatedOrder !== order
            ? `it heads an order-${allocatedOrder} block`
            : 'that block did not come from the page allocator';
    return fail('EINVAL', `cannot free an order-${order} block at pfn ${hex(pfn)}: ${why}`, {
      pfn,
      order,
      head,
      allocatedOrder,
    });
  }
}

/** The RAM page ranges minus the excluded ones, sorted, with touching ranges joined. */
const freeRanges = (memory: PhysicalMemory, exclude: readonly PhysRange[]): PfnRange[] => {
  const holes = exclude
    .filter((r) => r.size > 0)
    .map((r) => ({ start: Math.floor(r.base / PAGE_SIZE), end: Math.ceil((r.base + r.size) / PAGE_SIZE) }))
    .sort((a, b) => a.start - b.start);
  const out: PfnRange[] = [];
  for (const bank of memory.banks) {
    let start = bank.base / PAGE_SIZE;
    const end = (bank.base + bank.size) / PAGE_SIZE;
    for (const hole of holes) {
      if (hole.end <= start || hole.start >= end) continue;
      if (hole.start > start) appendRange(out, start, hole.start);
      start = Math.max(start, hole.end);
    }
    if (start < end) appendRange(out, start, end);
  }
  return out;
};

const appendRange = (out: PfnRange[], start: number, end: number): void => {
  const last = out[out.length - 1];
  if (last !== undefined && last.end === start) out[out.length - 1] = { start: last.start, end };
  else out.push({ start, end });
};

/** The parts of `ranges` inside `[lo, hi)`. */
const clipRanges = (ranges: readonly PfnRange[], lo: number, hi: number): PfnRange[] =>
  ranges
    .map((r) => ({ start: Math.max(r.start, lo), end: Math.min(r.end, hi) }))
    .filter((r) => r.start < r.end);
