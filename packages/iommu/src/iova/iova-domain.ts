import { fail, hex, ilog2, type KResult, ok, pow2 } from '@sharedbuf/platform';
import { IOVA_RANGE_CACHE_MAX_SIZE, IovaRcache } from './iova-rcache.js';
import { DEFAULT_IOVA_TREE_LAYOUT, IOVA_ANCHOR, IovaTree, type IovaTreeLayout, NIL } from './iova-tree.js';

/** What {@link IovaDomain.allocIovaPfn} returns when it allocates nothing (Linux returns NULL or 0). */
export const IOVA_ALLOC_FAILED = -1;

/** One allocated range of an {@link IovaDomain}, as `struct iova` (include/linux/iova.h). */
export interface IovaRange {
  /** First page frame of the range (`pfn_lo`). */
  readonly pfnLo: number;
  /** Last page frame of the range, inclusive (`pfn_hi`). */
  readonly pfnHi: number;
  /** True while the range sits in an rcache magazine: allocated in the tree, but free to its caller. */
  readonly inRcache: boolean;
}

const OK_VOID: KResult<void> = ok(undefined);
const MIN_GRANULE = 512;
/** Sizes below this are rounded up to a power of two by the fast path (`1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1)`). */
const FAST_ROUNDUP_BELOW = pow2(IOVA_RANGE_CACHE_MAX_SIZE - 1);

const enum Refusal {
  None,
  Invalid,
  Max32,
  NoFit,
}

/** `roundup_pow_of_two(n)` for n ≥ 1, exact for any safe integer. */
const roundupPowOfTwo = (n: number): number => {
  if (n <= 1) return 1;
  return pow2(n <= 0x1_0000_0000 ? 32 - Math.clz32(n - 1) : ilog2(n - 1) + 1);
};

/** `order_base_2(n)`: log2 of n rounded up to a power of two. */
const orderBase2 = (n: number): number => ilog2(roundupPowOfTwo(n));

const isPfn = (x: number): boolean => Number.isSafeInteger(x) && x >= 0;

/** A size of at least one page below a pfn limit: the requests the allocation calls accept. */
const isAllocRequest = (size: number, limitPfn: number): boolean =>
  Number.isSafeInteger(size) && size >= 1 && isPfn(limitPfn);

/** The size `alloc_iova_fast` really allocates, so that a cached range always fits its rcache bin. */
const fastRoundup = (size: number): number => (size < FAST_ROUNDUP_BELOW ? roundupPowOfTwo(size) : size);

/**
 * An IOVA address space allocator: `struct iova_domain` and its operations from
 * `drivers/iommu/iova.c`. Ranges are counted in granules (IOVA page frames, "pfns"). Allocation is
 * top-down and places every range exactly where Linux would: from the cached node (`cached_node`, or
 * `cached32_node` for limits at or below the 32-bit boundary), then once more from the limit, with
 * the `max32_alloc_size` fast refusal for 32-bit limits. The place is found without Linux's
 * predecessor-by-predecessor walk, by skipping whole blocks of ranges that cannot take the request
 * (see `IovaTree`).
 *
 * Extensions Linux never merged, from the 2012 Tegra proposal (seed 004): {@link allocIovaAt} places
 * a range at a caller-chosen pfn, and `startPfn` may be 0, making pfn 0 allocatable.
 *
 * The allocator emits no events: it is a hot inner structure, and the IOMMU domain built on it
 * reports every map and unmap.
 */
export class IovaDomain {
  /** Size of one IOVA page frame in bytes (`iovad->granule`). */
  readonly granule: number;
  /** log2 of the granule (`iova_shift`). */
  readonly iovaShift: number;
  /** Lowest pfn the allocator hands out (`iovad->start_pfn`); 0 is allowed. */
  readonly startPfn: number;
  /** First pfn at or above 4 GiB (`iovad->dma_32bit_pfn`): limits at or below it use the 32-bit cache. */
  readonly dma32BitPfn: number;
  /**
   * Highest pfn a range may reach: the kernel's `ULLONG_MAX >> iova_shift`, capped at 2^53 − 1 so
   * that every pfn is an exact number. Larger limits are clamped to it ("no limit").
   */
  readonly maxPfn: number;

  private readonly tree: IovaTree;
  private readonly rcache: IovaRcache;
  /** `cached_node` and `cached32_node`, each held by its range's first pfn (the anchor's is IOVA_ANCHOR). */
  private cachedNode = IOVA_ANCHOR;
  private cached32Node = IOVA_ANCHOR;
  private max32 = 0;
  private refusal = Refusal.None;

  /**
   * `init_iova_domain(iovad, granule, start_pfn)`. Throws a RangeError when the granule is not a
   * power of two of at least 512 bytes or `startPfn` is not a non-negative integer: that is a set-up
   * bug, as the kernel's `BUG_ON`. `layout` sizes the blocks of the range store; it changes speed,
   * never placement, and the default suits every use.
   */
  constructor(granule: number, startPfn: number, layout: IovaTreeLayout = DEFAULT_IOVA_TREE_LAYOUT) {
    if (!Number.isSafeInteger(granule) || granule < MIN_GRANULE || pow2(ilog2(granule)) !== granule) {
      throw new RangeError(`init_iova_domain: granule ${granule} is not a power of two ≥ ${MIN_GRANULE}`);
    }
    this.granule = granule;
    this.iovaShift = ilog2(granule);
    this.maxPfn = pow2(Math.min(64 - this.iovaShift, 53)) - 1;
    if (!isPfn(startPfn) || startPfn > this.maxPfn) {
      throw new RangeError(`init_iova_domain: start pfn ${startPfn} is not a pfn of this domain`);
    }
    this.startPfn = startPfn;
    this.dma32BitPfn = pow2(32 - this.iovaShift);
    this.max32 = this.dma32BitPfn;
    this.tree = new IovaTree(layout);
    this.rcache = new IovaRcache((pfn) => this.releaseCached(pfn));
  }

  /**
   * `iovad->max32_alloc_size`: a request of at least this many pages with a 32-bit limit is refused
   * at once. An allocation failure (of any limit, as in Linux) sets it to the failed size; freeing a
   * range that starts below the 32-bit boundary resets it to {@link dma32BitPfn}.
   */
  get max32AllocSize(): number {
    return this.max32;
  }

  /** Number of ranges in the tree, including those parked in the rcaches. */
  get rangeCount(): number {
    return this.tree.count;
  }

  /** Number of ranges parked in the rcaches. */
  get rcacheCount(): number {
    return this.rcache.cachedCount();
  }

  /**
   * `alloc_iova(iovad, size, limit_pfn, size_aligned)` for hot paths: the first pfn of the new range,
   * or {@link IOVA_ALLOC_FAILED} when the request is invalid or finds no room. Allocates no objects;
   * {@link allocIova} is the same call returning the reason for a refusal.
   */
  allocIovaPfn(size: number, limitPfn: number, sizeAligned: boolean): number {
    if (!isAllocRequest(size, limitPfn)) {
      this.refusal = Refusal.Invalid;
      return IOVA_ALLOC_FAILED;
    }
    const limit = this.exclusiveLimit(limitPfn);
    return this.allocRange(size, limit, sizeAligned ? roundupPowOfTwo(size) : 1);
  }

  /**
   * `alloc_iova`: allocates `size` pages at the highest place at or below `limitPfn` that Linux would
   * choose, aligned to `roundup_pow_of_two(size)` when `sizeAligned`. Returns the first pfn.
   *
   * Errors: EINVAL for a size below 1 or a limit that is not a pfn; ENOMEM when no room is left below
   * the limit, with the largest free run there in the detail. A refusal leaves the domain unchanged
   * except for `max32AllocSize`, which Linux updates on every failure of the search.
   */
  allocIova(size: number, limitPfn: number, sizeAligned: boolean): KResult<number> {
    const pfn = this.allocIovaPfn(size, limitPfn, sizeAligned);
    return pfn === IOVA_ALLOC_FAILED ? this.refused(size, limitPfn, sizeAligned) : ok(pfn);
  }

  /** `find_iova`: the range containing `pfn`, or undefined. */
  findIova(pfn: number): IovaRange | undefined {
    const n = this.tree.find(pfn);
    return n === NIL ? undefined : this.rangeOf(n);
  }

  /**
   * `free_iova`: frees the range containing `pfn` (any pfn inside it, as Linux), updating the cached
   * nodes and resetting `max32AllocSize` as `__cached_rbnode_delete_update` does. Allocates nothing.
   *
   * Errors: EINVAL when `pfn` is not a pfn; ENOENT when no range contains it, or when the range was
   * already freed into an rcache. Linux's `free_iova` silently ignores an unknown pfn; the model
   * reports it, with the errno iommufd's unmap returns when nothing is mapped at an IOVA.
   */
  freeIova(pfn: number): KResult<void> {
    if (!isPfn(pfn)) return fail('EINVAL', `free_iova: ${pfn} is not a page frame number`, { pfn });
    const n = this.tree.find(pfn);
    if (n === NIL) {
      return fail(
        'ENOENT',
        `free_iova: no IOVA range contains pfn ${hex(pfn)}; it was never allocated or is already free`,
        {
          pfn,
        },
      );
    }
    if (this.tree.isParked(n)) return this.parkedError('free_iova', n);
    this.freeNode(n);
    return OK_VOID;
  }

  /**
   * `reserve_iova`: keeps `[pfnLo, pfnHi]` from ever being allocated. As in Linux, a reservation that
   * overlaps existing ranges grows them (each overlapped range is extended down to the reservation, or
   * to the range before it) and only the uncovered top is inserted as a new range; the range returned
   * is the one that ends the reservation. Cached nodes and `max32AllocSize` are untouched.
   *
   * Ranges parked in the rcaches are free to their callers, so a reservation over one first flushes
   * the rcaches (Linux reserves before any allocation and never meets this case; merging into a
   * parked range would later hand out part of the reservation).
   *
   * Errors: EINVAL when a bound is not a pfn of the domain (Linux's `WARN_ON` on nonsensical pfns) or
   * `pfnLo > pfnHi` (which Linux does not check).
   */
  reserveIova(pfnLo: number, pfnHi: number): KResult<IovaRange> {
    if (!isPfn(pfnLo) || !isPfn(pfnHi) || pfnLo > pfnHi || pfnHi > this.maxPfn) {
      return fail(
        'EINVAL',
        `reserve_iova: [${pfnLo}, ${pfnHi}] is not a pfn range within this domain (pfns 0..${hex(this.maxPfn)})`,
        { pfnLo, pfnHi, maxPfn: this.maxPfn },
      );
    }
    const t = this.tree;
    if (this.overlapsParked(pfnLo, pfnHi)) this.rcache.flush();
    let lo = pfnLo;
    let n = t.firstEndingAt(lo);
    for (let hi = t.pfnHi(n); lo <= hi && pfnHi >= n; hi = t.pfnHi(n)) {
      if (lo < n) n = this.lowerStart(n, lo);
      if (pfnHi <= hi) return ok(this.rangeOf(n));
      lo = hi + 1;
      n = t.next(n);
    }
    t.insertBefore(n, lo, pfnHi);
    return ok(this.rangeOf(lo));
  }

  /**
   * Allocates exactly `[pfnLo, pfnLo + size)` — `iova_alloc_at` of the 2012 Tegra proposal, which
   * Linux never merged. Ranges parked in the rcaches count as free: if they are all that is in the
   * way, the rcaches are flushed first (as `alloc_iova_fast` does on failure). Cached nodes are not
   * moved, so later top-down allocations are placed as if this were a reservation.
   *
   * Errors: EINVAL for a size below 1 or a range outside `[startPfn, maxPfn]`; EEXIST, naming the
   * first overlapping range, when the place is taken. EEXIST rather than EBUSY because that is what
   * the merged fixed-address allocators return for this case: vfio type1's `vfio_dma_do_map` and
   * iommufd's `iopt_check_iova` both fail a fixed IOVA that overlaps an existing mapping with
   * -EEXIST; iova.c itself has no fixed-address allocation (its `reserve_iova` merges instead).
   */
  allocIovaAt(pfnLo: number, size: number): KResult<number> {
    if (!Number.isSafeInteger(size) || size < 1 || !isPfn(pfnLo)) {
      return fail('EINVAL', `iova_alloc_at: size ${size} at pfn ${pfnLo} is not a valid request`, {
        pfnLo,
        size,
      });
    }
    const pfnHi = pfnLo + size - 1;
    if (pfnLo < this.startPfn || pfnHi > this.maxPfn) {
      return fail(
        'EINVAL',
        `iova_alloc_at: [${hex(pfnLo)}, ${hex(pfnHi)}] lies outside the domain's pfns ${hex(this.startPfn)}..${hex(this.maxPfn)}`,
        { pfnLo, pfnHi, startPfn: this.startPfn, maxPfn: this.maxPfn },
      );
    }
    const t = this.tree;
    let n = t.firstEndingAt(pfnLo);
    if (n <= pfnHi) {
      for (let c = n; c <= pfnHi; c = t.next(c)) {
        if (!t.isParked(c)) {
          const taken = { pfnLo: c, pfnHi: t.pfnHi(c) };
          return fail(
            'EEXIST',
            `iova_alloc_at: [${hex(pfnLo)}, ${hex(pfnHi)}] overlaps the allocated range [${hex(taken.pfnLo)}, ${hex(taken.pfnHi)}]`,
            { pfnLo, pfnHi, overlaps: taken },
          );
        }
      }
      this.rcache.flush();
      n = t.firstEndingAt(pfnLo);
    }
    t.insertBefore(n, pfnLo, pfnHi);
    return ok(pfnLo);
  }

  /**
   * `alloc_iova_fast`: sizes below 32 pages are rounded up to a power of two (so a cached range always
   * fits its bin), then a cached range of that order at or below the limit is reused if there is one;
   * otherwise `alloc_iova(size, limitPfn, true)`. When that fails and `flushRcache` is set, every
   * cached range goes back to the tree and the allocation is tried once more — so a refusal may have
   * emptied the rcaches, as in Linux. Returns the first pfn.
   *
   * Errors: as {@link allocIova}.
   */
  allocIovaFast(size: number, limitPfn: number, flushRcache: boolean): KResult<number> {
    if (!isAllocRequest(size, limitPfn)) {
      return this.refusedInvalid(size, limitPfn);
    }
    const rounded = fastRoundup(size);
    const limit = this.exclusiveLimit(limitPfn);
    const order = orderBase2(rounded);
    if (order < IOVA_RANGE_CACHE_MAX_SIZE) {
      const pfn = this.rcache.get(order, limit - rounded);
      if (pfn >= 0) {
        const n = this.tree.find(pfn);
        if (n !== NIL) this.tree.setParked(n, false);
        return ok(pfn);
      }
    }
    const align = roundupPowOfTwo(rounded);
    let pfn = this.allocRange(rounded, limit, align);
    if (pfn === IOVA_ALLOC_FAILED && flushRcache) {
      this.rcache.flush();
      pfn = this.allocRange(rounded, limit, align);
    }
    return pfn === IOVA_ALLOC_FAILED ? this.refused(rounded, limitPfn, true) : ok(pfn);
  }

  /**
   * `free_iova_fast`: parks the range starting at `pfn` in the rcache of its order, or frees it when
   * it is too large to cache. `size` is the size that was passed to {@link allocIovaFast}.
   *
   * Errors: EINVAL for arguments that are not pfns/sizes, or a `size` that does not match the range
   * (Linux would cache it under the wrong order and later hand out overlapping ranges); ENOENT when no
   * range starts at `pfn` or it is already parked.
   */
  freeIovaFast(pfn: number, size: number): KResult<void> {
    if (!isPfn(pfn) || !Number.isSafeInteger(size) || size < 1) {
      return fail('EINVAL', `free_iova_fast: size ${size} at pfn ${pfn} is not a valid request`, {
        pfn,
        size,
      });
    }
    const t = this.tree;
    const n = t.find(pfn);
    if (n !== pfn) {
      return fail('ENOENT', `free_iova_fast: no IOVA range starts at pfn ${hex(pfn)}`, { pfn, size });
    }
    if (t.isParked(n)) return this.parkedError('free_iova_fast', n);
    const rounded = fastRoundup(size);
    const actual = t.pfnHi(n) - pfn + 1;
    if (actual !== rounded) {
      return fail(
        'EINVAL',
        `free_iova_fast: the range at pfn ${hex(pfn)} has ${actual} pages, not the ${rounded} that alloc_iova_fast(${size}) allocates`,
        { pfn, size, rangePages: actual },
      );
    }
    const order = orderBase2(size);
    if (order < IOVA_RANGE_CACHE_MAX_SIZE) {
      this.rcache.insert(order, pfn);
      t.setParked(n, true);
    } else {
      this.freeNode(n);
    }
    return OK_VOID;
  }

  /** Returns every cached range to the tree (`free_cpu_cached_iovas` then `free_global_cached_iovas`). */
  flushRcaches(): void {
    this.rcache.flush();
  }

  /**
   * `put_iova_domain`: drops every range and every cached range. The model then leaves the domain as
   * `init_iova_domain` made it, so it can be used again.
   */
  putIovaDomain(): void {
    this.rcache.discard();
    this.tree.reset();
    this.cachedNode = IOVA_ANCHOR;
    this.cached32Node = IOVA_ANCHOR;
    this.max32 = this.dma32BitPfn;
  }

  /** Every range in address order, as `/proc/iova/<name>/used` lists them (`iova_used_show`). */
  ranges(): IovaRange[] {
    const out: IovaRange[] = [];
    this.tree.forEach((pfnLo, pfnHi) => {
      out.push({ pfnLo, pfnHi, inRcache: this.tree.isParked(pfnLo) });
    });
    return out;
  }

  /** Length in pages of the largest free run within `[startPfn, limitPfn]` (rcache contents count as used). */
  largestFreeRange(limitPfn: number): number {
    const limit = this.exclusiveLimit(limitPfn);
    return this.tree.largestGap(this.startPfn, limit);
  }

  /**
   * `__alloc_and_insert_iova_range` with an exclusive limit. The first search covers what Linux's walk
   * from the cached node covers, `[start_pfn, min(limit, cached->pfn_lo))`; the retry covers
   * `(cached->pfn_hi, limit)`, as Linux's walk from `iova_find_limit` with `low_pfn = retry_pfn + 1`.
   */
  private allocRange(size: number, limit: number, align: number): number {
    const dma32 = this.dma32BitPfn;
    if (limit <= dma32 && size >= this.max32) {
      this.refusal = Refusal.Max32;
      return IOVA_ALLOC_FAILED;
    }
    const t = this.tree;
    const cached = limit <= dma32 ? this.cached32Node : this.cachedNode;
    let pfn =
      cached <= limit
        ? t.highestFit(this.startPfn, cached, size, align, cached)
        : t.highestFit(this.startPfn, limit, size, align, NIL);
    if (pfn < 0) {
      const retryPfn = t.pfnHi(cached);
      if (retryPfn < limit) pfn = t.highestFit(retryPfn + 1, limit, size, align, NIL);
      if (pfn < 0) {
        this.max32 = size;
        this.refusal = Refusal.NoFit;
        return IOVA_ALLOC_FAILED;
      }
    }
    const pfnHi = pfn + size - 1;
    t.insertAtFit(pfn, pfnHi);
    if (pfnHi < dma32) this.cached32Node = pfn;
    else this.cachedNode = pfn;
    return pfn;
  }

  /**
   * `private_free_iova`: `__cached_rbnode_delete_update` and `rb_erase`. The cached nodes are compared
   * by first pfn, which is what Linux compares them by.
   */
  private freeNode(lo: number): void {
    const next = this.tree.erase(lo);
    const hi = this.tree.erasedHi;
    const dma32 = this.dma32BitPfn;
    if (lo === this.cached32Node || (hi < dma32 && lo >= this.cached32Node)) this.cached32Node = next;
    if (lo < dma32) this.max32 = dma32;
    if (lo >= this.cachedNode) this.cachedNode = next;
  }

  /** True when a range parked in an rcache overlaps `[pfnLo, pfnHi]`. */
  private overlapsParked(pfnLo: number, pfnHi: number): boolean {
    for (let n = this.tree.firstEndingAt(pfnLo); n <= pfnHi; n = this.tree.next(n)) {
      if (this.tree.isParked(n)) return true;
    }
    return false;
  }

  /** Extends a range down to `pfnLo` for reserve_iova, keeping the cached nodes on it; returns its new handle. */
  private lowerStart(n: number, pfnLo: number): number {
    this.tree.lowerStart(n, pfnLo);
    if (this.cachedNode === n) this.cachedNode = pfnLo;
    if (this.cached32Node === n) this.cached32Node = pfnLo;
    return pfnLo;
  }

  /** A cached range leaving its magazine for the tree (`iova_magazine_free_pfns`). */
  private releaseCached(pfn: number): void {
    const n = this.tree.find(pfn);
    if (n === NIL) return;
    this.tree.setParked(n, false);
    this.freeNode(n);
  }

  /** The exclusive search limit for an inclusive `limitPfn`; limits beyond the domain mean "no limit". */
  private exclusiveLimit(limitPfn: number): number {
    return limitPfn >= this.maxPfn ? this.maxPfn + 1 : limitPfn + 1;
  }

  private rangeOf(n: number): IovaRange {
    return { pfnLo: n, pfnHi: this.tree.pfnHi(n), inRcache: this.tree.isParked(n) };
  }

  private parkedError(call: string, n: number): KResult<never> {
    const t = this.tree;
    return fail(
      'ENOENT',
      `${call}: the range [${hex(n)}, ${hex(t.pfnHi(n))}] is already free (parked in the rcache by free_iova_fast)`,
      { pfnLo: n, pfnHi: t.pfnHi(n) },
    );
  }

  private refusedInvalid(size: number, limitPfn: number): KResult<never> {
    return fail('EINVAL', `alloc_iova: size ${size} below limit ${limitPfn} is not a valid request`, {
      size,
      limitPfn,
    });
  }

  private refused(size: number, limitPfn: number, sizeAligned: boolean): KResult<never> {
    if (this.refusal === Refusal.Invalid) return this.refusedInvalid(size, limitPfn);
    const fastRefusal = this.refusal === Refusal.Max32;
    const largestFree = this.largestFreeRange(limitPfn);
    const what = `${size} page${size === 1 ? '' : 's'}${sizeAligned ? ' (size-aligned)' : ''}`;
    const why = fastRefusal
      ? `an allocation of ${this.max32} page${this.max32 === 1 ? '' : 's'} already failed below the 32-bit boundary and nothing there has been freed since (max32_alloc_size)`
      : `the largest free run there is ${largestFree} pages`;
    return fail('ENOMEM', `alloc_iova: no room for ${what} at or below pfn ${hex(limitPfn)}: ${why}`, {
      size,
      limitPfn,
      sizeAligned,
      largestFreeRange: largestFree,
      max32AllocSize: this.max32,
      fastRefusal,
    });
  }
}
