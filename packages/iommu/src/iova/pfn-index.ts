/**
 * A hash map from a range's first pfn to a small non-negative integer (where the range is stored),
 * so that reaching a range from its first pfn — what `free_iova(pfn)` usually names — costs a probe
 * or two instead of a search. Linux searches the rbtree (`private_find_iova`); the index changes only
 * how fast the same range is found. Open addressing with linear probing, each bucket a key and its
 * value side by side in one typed array (one cache line per probe), deletion by backward shift (no
 * tombstones), so lookups and updates allocate nothing.
 */

const EMPTY = -1;
const MIN_BUCKETS = 64;
const TWO_32 = 0x1_0000_0000;

/** @internal pfn → non-negative integer. */
export class PfnIndex {
  /** Bucket `h` holds its key at `2h` and its value (or EMPTY) at `2h + 1`. */
  private table = PfnIndex.emptyTable(MIN_BUCKETS);
  private mask = MIN_BUCKETS - 1;
  /** 32 − log2(buckets): the hash's top bits pick the bucket. */
  private shift = 32 - Math.log2(MIN_BUCKETS);
  private size = 0;

  /** Forgets every entry. */
  clear(): void {
    for (let h = 0; h <= this.mask; h++) this.table[2 * h + 1] = EMPTY;
    this.size = 0;
  }

  /** The value recorded for `pfn`, or -1. */
  get(pfn: number): number {
    const { table, mask } = this;
    for (let h = this.home(pfn); ; h = (h + 1) & mask) {
      const v = table[2 * h + 1]!;
      if (v === EMPTY || table[2 * h] === pfn) return v;
    }
  }

  /** Changes the value of `pfn`, which must be present. */
  set(pfn: number, value: number): void {
    const { table, mask } = this;
    let h = this.home(pfn);
    while (table[2 * h] !== pfn || table[2 * h + 1] === EMPTY) h = (h + 1) & mask;
    table[2 * h + 1] = value;
  }

  /** Records `pfn → value`; `pfn` must not be present. */
  add(pfn: number, value: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const { table, mask } = this;
    let h = this.home(pfn);
    while (table[2 * h + 1] !== EMPTY) h = (h + 1) & mask;
    table[2 * h] = pfn;
    table[2 * h + 1] = value;
    this.size += 1;
  }

  /** Removes `pfn`'s entry if present, shifting later entries of its probe run back so none is orphaned. */
  remove(pfn: number): void {
    const { table, mask } = this;
    let h = this.home(pfn);
    for (;;) {
      if (table[2 * h + 1] === EMPTY) return;
      if (table[2 * h] === pfn) break;
      h = (h + 1) & mask;
    }
    for (let j = (h + 1) & mask; table[2 * j + 1] !== EMPTY; j = (j + 1) & mask) {
      const home = this.home(table[2 * j]!);
      // Entry j may fill the hole at h unless its home lies cyclically in (h, j].
      if (((j - home) & mask) >= ((j - h) & mask)) {
        table[2 * h] = table[2 * j]!;
        table[2 * h + 1] = table[2 * j + 1]!;
        h = j;
      }
    }
    table[2 * h + 1] = EMPTY;
    this.size -= 1;
  }

  /**
   * Home bucket: a multiplicative hash of the pfn's two exact 32-bit halves (the high half taken by
   * division, so no bit is lost to 32-bit operators).
   */
  private home(pfn: number): number {
    const high = Math.floor(pfn / TWO_32);
    const low = pfn - high * TWO_32;
    return Math.imul(low ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  private grow(): void {
    const old = this.table;
    const buckets = (this.mask + 1) * 2;
    this.table = PfnIndex.emptyTable(buckets);
    this.mask = buckets - 1;
    this.shift -= 1;
    this.size = 0;
    for (let h = 0; 2 * h < old.length; h++) {
      if (old[2 * h + 1] !== EMPTY) this.add(old[2 * h]!, old[2 * h + 1]!);
    }
  }

  private static emptyTable(buckets: number): Float64Array {
    const table = new Float64Array(2 * buckets);
    for (let h = 0; h < buckets; h++) table[2 * h + 1] = EMPTY;
    return table;
  }
}
