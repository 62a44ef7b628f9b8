import { hex, MAX_ADDRESS_BITS, PAGE_SHIFT, PAGE_SIZE, pow2 } from '../core/address.js';
import type { EventBus } from '../core/event-bus.js';
import { fail, type KResult, ok } from '../core/kernel-error.js';
import { Bitmap } from './bitmap.js';
import type { MemoryEvents } from './memory-events.js';
import type { PageMetadata } from './page-metadata.js';
import type { ReservedRegion } from './reserved-region.js';

const OK: KResult<void> = ok(undefined);

/** Options of the {@link ContiguousAllocator} constructor. */
export interface ContiguousAllocatorOptions {
  /**
   * Page counters to record allocated pages in (each page gets one reference, as
   * `alloc_contig_range` leaves them), so they can be referenced and pinned like any page.
   */
  readonly pages?: PageMetadata | undefined;
}

/** Options of {@link ContiguousAllocator.alloc}. */
export interface CmaAllocOptions {
  /** Highest physical address the allocation may reach (its last byte). No limit when absent. */
  readonly maxAddress?: number | undefined;
}

/**
 * A CMA region (`struct cma`, `mm/cma.c`): a physically contiguous range reserved at boot from which
 * `cma_alloc` carves runs of pages, first fit, tracked by a bitmap with one bit per page
 * (`order_per_bit` 0). The page allocator never hands out these pages (the model does not lend them
 * to movable allocations, so no migration can fail).
 *
 * The model adds `maxAddress` to `cma_alloc` (the kernel places regions under a limit at reserve time
 * instead). With page counters, the region owns its pages like any allocator: a page whose last
 * reference is dropped by `putPage` returns to the region.
 */
export class ContiguousAllocator {
  /** The region's name, as in `/sys/kernel/mm/cma/<name>`. */
  readonly name: string;
  /** Physical base address, page aligned. */
  readonly base: number;
  /** Size in bytes. */
  readonly size: number;
  /** First pfn (`cma->base_pfn`). */
  readonly basePfn: number;
  /** Number of pages (`cma->count`). */
  readonly pageCount: number;
  private readonly bitmap: Bitmap;
  private readonly pages: PageMetadata | undefined;
  private readonly ownerId: number;
  private used = 0;

  /**
   * @param bus the memory bus, for cma-alloc and cma-release events.
   * @throws RangeError when the region is empty or not page aligned, or (with page counters) not RAM.
   */
  constructor(
    region: ReservedRegion,
    private readonly bus: EventBus<MemoryEvents>,
    options: ContiguousAllocatorOptions = {},
  ) {
    if (region.size <= 0 || region.base % PAGE_SIZE !== 0 || region.size % PAGE_SIZE !== 0) {
      throw new RangeError(`CMA region ${region.name}: base and size must be non-zero multiples of 4 KiB`);
    }
    this.name = region.name;
    this.base = region.base;
    this.size = region.size;
    this.basePfn = region.base / PAGE_SIZE;
    this.pageCount = region.size / PAGE_SIZE;
    this.bitmap = new Bitmap(this.pageCount);
    this.pages = options.pages;
    if (this.pages !== undefined && !this.pages.covers(this.basePfn, this.pageCount)) {
      throw new RangeError(`CMA region ${region.name} at ${hex(region.base)} is not all RAM`);
    }
    this.ownerId = this.pages?.registerOwner({ releaseBlock: (pfn) => this.releaseOne(pfn) }) ?? 0;
  }

  /** Pages currently allocated. */
  get usedPages(): number {
    return this.used;
  }

  /**
   * `cma_alloc(cma, count, align)`: the first run of `count` free pages whose first pfn is a multiple
   * of 2^alignOrder (in absolute terms, even when the region base is not), entirely at or below
   * `maxAddress`. Returns the first pfn.
   *
   * Errors: EINVAL for a count that is not a positive integer, an alignOrder outside 0..40 or a bad
   * maxAddress; ENOMEM when no run fits, with detail `{region, count, alignOrder, maxAddress,
   * largestFreeRun}`.
   */
  alloc(count: number, alignOrder: number, options?: CmaAllocOptions): KResult<number> {
    const maxAddress = options?.maxAddress;
    const invalid = this.checkAlloc(count, alignOrder, maxAddress);
    if (invalid !== undefined) return invalid;
    const align = pow2(alignOrder);
    const end = this.limitPages(maxAddress);
    const index = this.bitmap.findNextZeroArea(end, 0, count, align, this.basePfn % align);
    if (index < 0) {
      const largestFreeRun = this.largestFreeRun(maxAddress);
      return fail(
        'ENOMEM',
        `CMA region ${this.name} has no run of ${count} free pages aligned to order ${alignOrder}` +
          `${maxAddress === undefined ? '' : ` ending at or below ${hex(maxAddress)}`}; its longest free run is ${largestFreeRun} pages`,
        { region: this.name, count, alignOrder, maxAddress: maxAddress ?? null, largestFreeRun },
      );
    }
    this.bitmap.set(index, count);
    this.used += count;
    const pfn = this.basePfn + index;
    if (this.pages !== undefined)
      for (let i = 0; i < count; i++) this.pages.markAllocated(pfn + i, 0, this.ownerId);
    if (this.bus.active) this.bus.emit('cma-alloc', { region: this.name, pfn, count });
    return ok(pfn);
  }

  /**
   * `cma_release(cma, pages, count)`: returns `count` pages from `pfn`. Any allocated part of an
   * allocation may be released on its own, as in the kernel.
   *
   * Errors: EINVAL when the range is not inside the region (the kernel returns false) or some page of
   * it is not allocated (a double release); EBUSY when a page is pinned or other references to it
   * remain (the model's rule, as for `freePages`). A failed call changes nothing.
   */
  release(pfn: number, count: number): KResult<void> {
    if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(pfn)) {
      return fail('EINVAL', `cma_release needs an integer pfn and a positive page count`, { pfn, count });
    }
    const index = pfn - this.basePfn;
    if (index < 0 || index + count > this.pageCount) {
      return fail('EINVAL', `pages ${hex(pfn)}+${count} are not inside CMA region ${this.name}`, {
        region: this.name,
        pfn,
        count,
      });
    }
    const free = this.bitmap.findNextZeroBit(index + count, index);
    if (free < index + count) {
      return fail('EINVAL', `page ${hex(this.basePfn + free)} of CMA region ${this.name} is not allocated`, {
        region: this.name,
        pfn,
        count,
        freePfn: this.basePfn + free,
      });
    }
    const busy = this.firstBusy(pfn, count);
    if (busy !== undefined) return busy;
    if (this.pages !== undefined)
      for (let i = 0; i < count; i++) this.pages.release(pfn + i, 0, this.ownerId);
    this.bitmap.clear(index, count);
    this.used -= count;
    if (this.bus.active) this.bus.emit('cma-release', { region: this.name, pfn, count });
    return OK;
  }

  /** The longest run of free pages ending at or below `maxAddress` (the whole region when absent). */
  largestFreeRun(maxAddress?: number): number {
    return this.bitmap.longestZeroRun(this.limitPages(maxAddress));
  }

  /** Pages of the region that lie entirely at or below `maxAddress`, counted from its base. */
  private limitPages(maxAddress: number | undefined): number {
    if (maxAddress === undefined) return this.pageCount;
    const below = Math.floor((maxAddress + 1) / PAGE_SIZE) - this.basePfn;
    return Math.max(0, Math.min(this.pageCount, below));
  }

  private checkAlloc(
    count: number,
    alignOrder: number,
    maxAddress: number | undefined,
  ): KResult<never> | undefined {
    if (!Number.isSafeInteger(count) || count < 1) {
      return fail('EINVAL', `cma_alloc of ${count} pages: the count must be a positive integer`, { count });
    }
    const maxAlignOrder = MAX_ADDRESS_BITS - PAGE_SHIFT;
    if (!Number.isInteger(alignOrder) || alignOrder < 0 || alignOrder > maxAlignOrder) {
      return fail(
        'EINVAL',
        `cma_alloc alignment order ${alignOrder} is not an integer in 0..${maxAlignOrder}`,
        {
          alignOrder,
        },
      );
    }
    if (maxAddress !== undefined && !(maxAddress >= 0)) {
      return fail('EINVAL', `maximum address ${maxAddress} is not a non-negative address`, { maxAddress });
    }
    return undefined;
  }

  /** EBUSY for the first page of the range someone else still holds, if any. */
  private firstBusy(pfn: number, count: number): KResult<never> | undefined {
    const pages = this.pages;
    if (pages === undefined) return undefined;
    for (let p = pfn; p < pfn + count; p++) {
      const status = pages.releaseStatus(p, 0, this.ownerId);
      if (status === 'pinned') {
        return fail('EBUSY', `page ${hex(p)} of CMA region ${this.name} is pinned: unpin it first`, {
          region: this.name,
          pfn: p,
          pincount: pages.pincount(p),
        });
      }
      if (status === 'shared') {
        return fail('EBUSY', `page ${hex(p)} of CMA region ${this.name} still has other references`, {
          region: this.name,
          pfn: p,
          refcount: pages.refcount(p),
        });
      }
    }
    return undefined;
  }

  /** A page's last reference went (`put_page`): it returns to the region. */
  private releaseOne(pfn: number): void {
    this.bitmap.clear(pfn - this.basePfn, 1);
    this.used -= 1;
    if (this.bus.active) this.bus.emit('cma-release', { region: this.name, pfn, count: 1 });
  }
}
