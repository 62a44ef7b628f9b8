/** Something occupying the half-open address range `[start, end)`. */
export interface Interval {
  readonly start: number;
  readonly end: number;
}

/**
 * Intervals sorted by start address (equal starts keep insertion order), for the debug tables'
 * lookups. It replaces the kernel's `dma_entry_hash` buckets: an exact lookup is a binary search,
 * O(log n); a containing or overlapping lookup is a binary search plus a scan bounded by the
 * longest interval ever inserted, O(log n + k) in practice. Intervals may overlap (the same buffer
 * can be mapped twice). Callers iterate by position with {@link scanFrom}/{@link at}, so lookups
 * allocate nothing.
 *
 * Storage is a list of sorted chunks, so an insert or remove moves at most a chunk's worth of items
 * plus one counter per chunk instead of the whole array: map/unmap churn stays cheap with tens of
 * thousands of live mappings.
 */
export class IntervalIndex<T extends Interval> {
  private readonly chunks: T[][] = [];
  /** Number of items in the chunks before chunk c. */
  private readonly before: number[] = [];
  private count = 0;
  private maxLength = 0;
  /** The chunk {@link at} found last: scans read positions in order. */
  private hint = 0;

  /** @param chunkSize items per chunk before it splits (tests use small ones to force splits). */
  constructor(private readonly chunkSize = 64) {}

  /** Number of intervals held. */
  get size(): number {
    return this.count;
  }

  /** The interval at sorted position `i` (0 ≤ i < size). */
  at(i: number): T {
    let c = this.hint;
    if (!this.holds(c, i)) {
      c = this.holds(c + 1, i) ? c + 1 : this.chunkOf(i);
      this.hint = c;
    }
    return (this.chunks[c] as T[])[i - (this.before[c] as number)] as T;
  }

  /** Adds an interval after every interval with the same start. */
  insert(item: T): void {
    this.maxLength = Math.max(this.maxLength, item.end - item.start);
    this.count += 1;
    if (this.chunks.length === 0) {
      this.chunks.push([item]);
      this.before.push(0);
      return;
    }
    const c = this.lastChunkStartingAtOrBefore(item.start);
    const chunk = this.chunks[c] as T[];
    chunk.splice(upperBound(chunk, item.start), 0, item);
    if (chunk.length > 2 * this.chunkSize) this.chunks.splice(c + 1, 0, chunk.splice(this.chunkSize));
    this.recount(c);
  }

  /** Removes this very interval (by identity); false when it is not held. */
  remove(item: T): boolean {
    for (let i = this.lowerBound(item.start); i < this.count; i++) {
      const it = this.at(i);
      if (it.start !== item.start) break;
      if (it !== item) continue;
      const c = this.hint;
      const chunk = this.chunks[c] as T[];
      chunk.splice(i - (this.before[c] as number), 1);
      if (chunk.length === 0) this.chunks.splice(c, 1);
      this.count -= 1;
      if (this.count === 0) this.maxLength = 0;
      this.recount(c);
      return true;
    }
    return false;
  }

  /** The first position whose interval starts at or after `addr`. */
  lowerBound(addr: number): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid] as T[];
      if ((chunk[chunk.length - 1] as T).start < addr) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.chunks.length) return this.count;
    return (this.before[lo] as number) + lowerBound(this.chunks[lo] as T[], addr);
  }

  /**
   * The first position whose interval could reach `addr` (start ≥ addr − longest length): every
   * interval containing or ending at `addr` is at this position or later, so a scan from here up to
   * the first start beyond the range of interest sees every candidate.
   */
  scanFrom(addr: number): number {
    return this.lowerBound(addr - this.maxLength);
  }

  private holds(c: number, i: number): boolean {
    const b = this.before[c];
    return b !== undefined && i >= b && i < b + (this.chunks[c] as T[]).length;
  }

  /** The chunk holding position `i`. */
  private chunkOf(i: number): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.before[mid] as number) <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The last chunk whose first start is ≤ `addr` (the first chunk when none is). */
  private lastChunkStartingAtOrBefore(addr: number): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (((this.chunks[mid] as T[])[0] as T).start <= addr) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Rebuilds the per-chunk counts from chunk `from` on. */
  private recount(from: number): void {
    this.before.length = this.chunks.length;
    let n = from === 0 ? 0 : (this.before[from - 1] as number) + (this.chunks[from - 1] as T[]).length;
    for (let c = from; c < this.chunks.length; c++) {
      this.before[c] = n;
      n += (this.chunks[c] as T[]).length;
    }
    this.hint = 0;
  }
}

/** The first index in a sorted chunk whose start is ≥ `addr`. */
const lowerBound = (chunk: readonly Interval[], addr: number): number => {
  let lo = 0;
  let hi = chunk.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((chunk[mid] as Interval).start < addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/** The first index in a sorted chunk whose start is > `addr`. */
const upperBound = (chunk: readonly Interval[], addr: number): number => {
  let lo = 0;
  let hi = chunk.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((chunk[mid] as Interval).start <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};
