/**
 * The per-size IOVA range caches ("rcaches") of `drivers/iommu/iova.c`: magazines of recently freed
 * pfns, one bin per power-of-two size below 2^{@link IOVA_RANGE_CACHE_MAX_SIZE} pages, after Bonwick
 * and Adams' magazines and vmem.
 *
 * The model has one CPU, so each bin has one `iova_cpu_rcache` (a `loaded` and a `prev` magazine)
 * and a depot of full magazines. Linux (since 6.7) lets the depot grow and trims it later from a
 * delayed work item; the model has no timers here, so it keeps the earlier fixed bound of
 * {@link MAX_GLOBAL_MAGS} magazines per bin: when the depot is full, the loaded magazine's ranges go
 * back to the tree, exactly as kernels before 6.7 did. Everything is deterministic.
 */

/** log2 of the largest cached range size, in pages, plus one (`IOVA_RANGE_CACHE_MAX_SIZE`, include/linux/iova.h). */
export const IOVA_RANGE_CACHE_MAX_SIZE = 6;

/** Pfns per magazine (`IOVA_MAG_SIZE`, drivers/iommu/iova.c). */
export const IOVA_MAG_SIZE = 127;

/** Full magazines a bin's depot holds (`MAX_GLOBAL_MAGS`, kernels before 6.7). */
export const MAX_GLOBAL_MAGS = 32;

/** `struct iova_magazine`: a stack of free range starts. */
class IovaMagazine {
  size = 0;
  readonly pfns = new Float64Array(IOVA_MAG_SIZE);
}

/** One size bin: `struct iova_rcache` with its single `iova_cpu_rcache`. */
class IovaRcacheBin {
  loaded: IovaMagazine;
  prev: IovaMagazine;
  readonly depot: IovaMagazine[] = [];

  constructor(take: () => IovaMagazine) {
    this.loaded = take();
    this.prev = take();
  }
}

/**
 * @internal The rcaches of one domain. `release` returns a cached range to the tree
 * (`private_free_iova` on the range starting at that pfn).
 */
export class IovaRcache {
  private readonly spare: IovaMagazine[] = [];
  private readonly bins: IovaRcacheBin[];

  constructor(private readonly release: (pfn: number) => void) {
    this.bins = Array.from({ length: IOVA_RANGE_CACHE_MAX_SIZE }, () => new IovaRcacheBin(() => this.take()));
  }

  /**
   * Parks the range starting at `pfn` in bin `order` (`__iova_rcache_insert`). Never refuses: a new
   * magazine is always available, so the kernel's allocation-failure path does not arise.
   */
  insert(order: number, pfn: number): void {
    const bin = this.bins[order]!;
    if (bin.loaded.size === IOVA_MAG_SIZE) {
      if (bin.prev.size < IOVA_MAG_SIZE) {
        const t = bin.prev;
        bin.prev = bin.loaded;
        bin.loaded = t;
      } else {
        if (bin.depot.length < MAX_GLOBAL_MAGS) {
          bin.depot.push(bin.loaded);
        } else {
          this.drain(bin.loaded);
          this.spare.push(bin.loaded);
        }
        bin.loaded = this.take();
      }
    }
    const mag = bin.loaded;
    mag.pfns[mag.size++] = pfn;
  }

  /**
   * Takes a cached range of bin `order` starting at or below `limitPfn` (`__iova_rcache_get` and
   * `iova_magazine_pop`): the most recently parked suitable one of the loaded magazine; -1 when none.
   */
  get(order: number, limitPfn: number): number {
    const bin = this.bins[order]!;
    if (bin.loaded.size === 0) {
      if (bin.prev.size > 0) {
        const t = bin.prev;
        bin.prev = bin.loaded;
        bin.loaded = t;
      } else {
        const full = bin.depot.pop();
        if (full === undefined) return -1;
        this.spare.push(bin.loaded);
        bin.loaded = full;
      }
    }
    return this.pop(bin.loaded, limitPfn);
  }

  /**
   * Returns every cached range to the tree: the CPU magazines bin by bin (`free_cpu_cached_iovas`),
   * then the depots (`free_global_cached_iovas`).
   */
  flush(): void {
    for (const bin of this.bins) {
      this.drain(bin.loaded);
      this.drain(bin.prev);
    }
    for (const bin of this.bins) {
      for (let mag = bin.depot.pop(); mag !== undefined; mag = bin.depot.pop()) {
        this.drain(mag);
        this.spare.push(mag);
      }
    }
  }

  /** Forgets every cached range without touching the tree (`free_iova_rcaches`, for put_iova_domain). */
  discard(): void {
    for (const bin of this.bins) {
      bin.loaded.size = 0;
      bin.prev.size = 0;
      for (let mag = bin.depot.pop(); mag !== undefined; mag = bin.depot.pop()) {
        mag.size = 0;
        this.spare.push(mag);
      }
    }
  }

  /** Number of ranges currently cached. */
  cachedCount(): number {
    let n = 0;
    for (const bin of this.bins) {
      n += bin.loaded.size + bin.prev.size;
      for (const mag of bin.depot) n += mag.size;
    }
    return n;
  }

  /** Only fall back to the tree when no cached pfn suits the limit: scan from the top, swap-remove. */
  private pop(mag: IovaMagazine, limitPfn: number): number {
    const pfns = mag.pfns;
    for (let i = mag.size - 1; i >= 0; i--) {
      const pfn = pfns[i]!;
      if (pfn <= limitPfn) {
        mag.size -= 1;
        pfns[i] = pfns[mag.size]!;
        return pfn;
      }
    }
    return -1;
  }

  /** `iova_magazine_free_pfns`: every pfn back to the tree, in magazine order. */
  private drain(mag: IovaMagazine): void {
    for (let i = 0; i < mag.size; i++) this.release(mag.pfns[i]!);
    mag.size = 0;
  }

  private take(): IovaMagazine {
    const mag = this.spare.pop() ?? new IovaMagazine();
    mag.size = 0;
    return mag;
  }
}
