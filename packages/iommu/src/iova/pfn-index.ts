/**
 * A hash map from a range's first pfn to a small integer (where the range is stored), so that
 * `free_iova(pfn)` of a range start — the usual case — costs a probe or two instead of a search.
 * Linux searches the rbtree (`private_find_iova`); the index changes only how fast the same range is
 * found. Open addressing with linear probing in typed arrays, deletion by backward shift (no
 * tombstones), so lookups and updates allocate nothing.
 */

const EMPTY = -1;
const MIN_CAPACITY = 64;
const TWO_32 = 0x1_0000_0000;

/** @internal pfn → non-negative integer. */
export class PfnIndex {
  private keys = new Float64Array(MIN_CAPACITY);
  private values = new Int32Array(MIN_CAPACITY).fill(EMPTY);
  private mask = MIN_CAPACITY - 1;
  /** 32 − log2(capacity): the hash's top bits pick the bucket. */
  private shift = 32 - Math.log2(MIN_CAPACITY);
  private size = 0;

  /** Forgets every entry. */
  clear(): void {
    this.values.fill(EMPTY);
    this.size = 0;
  }

  /** The value recorded for `pfn`, or -1. */
  get(pfn: number): number {
    const { keys, values, mask } = this;
    for (let h = this.home(pfn); ; h = (h + 1) & mask) {
      const s = values[h]!;
      if (s === EMPTY || keys[h] === pfn) return s;
    }
  }

  /** Changes the value of `pfn`, which must be present. */
  set(pfn: number, value: number): void {
    const { keys, mask } = this;
    let h = this.home(pfn);
    while (keys[h] !== pfn || this.values[h] === EMPTY) h = (h + 1) & mask;
    this.values[h] = value;
  }

  /** Records `pfn → value`; `pfn` must not be present. */
  add(pfn: number, value: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const { keys, values, mask } = this;
    let h = this.home(pfn);
    while (values[h] !== EMPTY) h = (h + 1) & mask;
    keys[h] = pfn;
    values[h] = value;
    this.size += 1;
  }

  /** Removes `pfn`'s entry, shifting later entries of its probe run back so none is orphaned. */
  remove(pfn: number): void {
    const { keys, values, mask } = this;
    let h = this.home(pfn);
    for (let s = values[h]!; s === EMPTY || keys[h] !== pfn; s = values[h]!) {
      if (s === EMPTY) return;
      h = (h + 1) & mask;
    }
    for (let j = (h + 1) & mask; values[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.home(keys[j]!);
      // Entry j may fill the hole at h unless its home lies cyclically in (h, j].
      if (((j - home) & mask) >= ((j - h) & mask)) {
        keys[h] = keys[j]!;
        values[h] = values[j]!;
        h = j;
      }
    }
    values[h] = EMPTY;
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
    const oldKeys = this.keys;
    const oldValues = this.values;
    const capacity = (this.mask + 1) * 2;
    this.keys = new Float64Array(capacity);
    this.values = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
    this.shift -= 1;
    this.size = 0;
    for (let h = 0; h < oldValues.length; h++) {
      if (oldValues[h] !== EMPTY) this.add(oldKeys[h]!, oldValues[h]!);
    }
  }
}
