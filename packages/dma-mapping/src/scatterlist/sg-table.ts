import type { DmaDebugSgEntry } from '../debug/scatterlist.js';

const DEFAULT_CAPACITY = 16;

/**
 * `struct sg_table` (`include/linux/scatterlist.h`): a list of `struct scatterlist` elements with
 * a CPU side — where each segment's first byte is in physical memory (`sg_phys()`, i.e. page +
 * offset flattened) and its `length` — and a device side filled in by `dma_map_sgtable()`
 * (`sg_dma_address()`, `sg_dma_len()`).
 *
 * `origNents` counts the CPU entries built; `nents` counts the DMA segments after mapping, which an
 * IOMMU may make fewer than `origNents` by merging (only the first `nents` DMA entries are
 * meaningful then). As after `sg_alloc_table()`, a freshly built table has `nents === origNents`
 * and a zeroed device side.
 *
 * Entries live in four Float64Array columns that grow geometrically and are never shrunk, so
 * {@link SgTable.reset} followed by a builder that fits in the current capacity allocates nothing.
 * Kernel chaining (`sg_chain`, `SG_MAX_SINGLE_ALLOC`) is not modelled: it changes only how the
 * kernel stores a long list, not its contents. The table is plain data and emits no events; the
 * mapping layer reports the operations done with it.
 */
export class SgTable {
  private physCol: Float64Array;
  private lengthCol: Float64Array;
  private dmaAddressCol: Float64Array;
  private dmaLengthCol: Float64Array;
  private built = 0;
  private mapped = 0;
  private total = 0;

  /** @param capacity entries to make room for up front (grown on demand). */
  constructor(capacity = DEFAULT_CAPACITY) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new RangeError(`SgTable capacity ${capacity} is not a non-negative integer`);
    }
    this.physCol = new Float64Array(capacity);
    this.lengthCol = new Float64Array(capacity);
    this.dmaAddressCol = new Float64Array(capacity);
    this.dmaLengthCol = new Float64Array(capacity);
  }

  /** Entries built on the CPU side (`orig_nents`, what `sg_nents()` counts). */
  get origNents(): number {
    return this.built;
  }

  /** DMA segments (`nents`): equal to {@link origNents} until a mapping sets it. */
  get nents(): number {
    return this.mapped;
  }

  /** Sum of the CPU-side lengths, in bytes. */
  get totalLength(): number {
    return this.total;
  }

  /** Entries the columns hold without growing. */
  get capacity(): number {
    return this.physCol.length;
  }

  /** `sg_phys()` of entry `i`: the physical address of its first byte. */
  phys(i: number): number {
    return this.physCol[this.checkIndex(i)]!;
  }

  /** `sg->length` of entry `i`, in bytes. */
  length(i: number): number {
    return this.lengthCol[this.checkIndex(i)]!;
  }

  /** `sg_dma_address()` of entry `i` (meaningful for `i < nents` once mapped). */
  dmaAddress(i: number): number {
    return this.dmaAddressCol[this.checkIndex(i)]!;
  }

  /** `sg_dma_len()` of entry `i` (0 beyond `nents` once mapped). */
  dmaLength(i: number): number {
    return this.dmaLengthCol[this.checkIndex(i)]!;
  }

  /**
   * Sets the device side of entry `i`, as a `map_sg` implementation does with `sg_dma_address(s) =`
   * and `sg_dma_len(s) =`. Throws RangeError on an index outside the built entries or an address or
   * length that is not a non-negative safe integer (a bug in the mapping layer).
   */
  setDma(i: number, dmaAddress: number, dmaLength: number): void {
    const at = this.checkIndex(i);
    if (!Number.isSafeInteger(dmaAddress) || dmaAddress < 0) {
      throw new RangeError(`sg entry ${i}: DMA address ${dmaAddress} is not a non-negative safe integer`);
    }
    if (!Number.isSafeInteger(dmaLength) || dmaLength < 0) {
      throw new RangeError(`sg entry ${i}: DMA length ${dmaLength} is not a non-negative safe integer`);
    }
    this.dmaAddressCol[at] = dmaAddress;
    this.dmaLengthCol[at] = dmaLength;
  }

  /**
   * Sets `nents`, as `dma_map_sgtable()` stores the count `dma_map_sg()` returned. Throws RangeError
   * unless `0 ≤ n ≤ origNents`.
   */
  setNents(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.built) {
      throw new RangeError(`nents ${n} is outside 0..${this.built} (orig_nents)`);
    }
    this.mapped = n;
  }

  /** Empties the table, keeping its storage, so that a builder can refill it without allocating. */
  reset(): void {
    this.built = 0;
    this.mapped = 0;
    this.total = 0;
  }

  /**
   * @internal Makes room for `n` entries in total, growing the columns geometrically and keeping
   * the entries already built. For the builders, which know their entry count before filling.
   */
  reserve(n: number): void {
    if (n <= this.physCol.length) return;
    const capacity = Math.max(n, this.physCol.length * 2);
    this.physCol = grown(this.physCol, capacity, this.built);
    this.lengthCol = grown(this.lengthCol, capacity, this.built);
    this.dmaAddressCol = grown(this.dmaAddressCol, capacity, this.built);
    this.dmaLengthCol = grown(this.dmaLengthCol, capacity, this.built);
  }

  /**
   * @internal Appends one CPU entry with a zeroed device side (`sg_set_page()` on the next element
   * of a table fresh from `sg_init_table()`), keeping `nents === origNents`. The builders validate
   * first and reserve room; this only stores.
   */
  append(phys: number, length: number): void {
    this.reserve(this.built + 1);
    const at = this.built;
    this.physCol[at] = phys;
    this.lengthCol[at] = length;
    this.dmaAddressCol[at] = 0;
    this.dmaLengthCol[at] = 0;
    this.built = at + 1;
    this.mapped = this.built;
    this.total += length;
  }

  /** `for_each_sgtable_sg()`: calls `fn` with each CPU entry, in order. */
  forEachSg(fn: (phys: number, length: number, index: number) => void): void {
    for (let i = 0; i < this.built; i++) fn(this.physCol[i]!, this.lengthCol[i]!, i);
  }

  /** `for_each_sgtable_dma_sg()`: calls `fn` with each of the first `nents` DMA segments, in order. */
  forEachDmaSegment(fn: (dmaAddress: number, dmaLength: number, index: number) => void): void {
    for (let i = 0; i < this.mapped; i++) fn(this.dmaAddressCol[i]!, this.dmaLengthCol[i]!, i);
  }

  /**
   * Every built entry as the objects DMA debug reads (`debug_dma_map_sg()` and friends walk all
   * `orig_nents` elements). Allocates: for debugging and reports, not for hot paths.
   */
  entries(): DmaDebugSgEntry[] {
    const out: DmaDebugSgEntry[] = [];
    for (let i = 0; i < this.built; i++) {
      out.push({
        phys: this.physCol[i]!,
        length: this.lengthCol[i]!,
        dmaAddress: this.dmaAddressCol[i]!,
        dmaLength: this.dmaLengthCol[i]!,
      });
    }
    return out;
  }

  private checkIndex(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.built) {
      throw new RangeError(`sg entry ${i} is outside 0..${this.built - 1}`);
    }
    return i;
  }
}

/** A column of `capacity` entries holding the first `keep` entries of `col`. */
const grown = (col: Float64Array, capacity: number, keep: number): Float64Array => {
  const next = new Float64Array(capacity);
  next.set(col.subarray(0, keep));
  return next;
};
