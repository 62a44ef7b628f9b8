import { alignUp } from '../core/address.js';

/** Index of the lowest set bit of a non-zero 32-bit word. */
const ctz32 = (word: number): number => 31 - Math.clz32(word & -word);

/**
 * A fixed-size bitmap over allocation units, with the search helpers of `lib/bitmap.c` and
 * `lib/find_bit.c` that CMA and genalloc build on. Bit indices count units inside one region, never
 * addresses, and stay below 2^32, so 32-bit word arithmetic on them is exact.
 */
export class Bitmap {
  private readonly words: Uint32Array;

  /** @param size number of bits, all clear. */
  constructor(readonly size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  /** True when bit `i` is set (`test_bit`). */
  test(i: number): boolean {
    return (((this.words[i >>> 5] as number) >>> (i & 31)) & 1) === 1;
  }

  /** Sets bits `[start, start + n)` (`bitmap_set`). */
  set(start: number, n: number): void {
    this.fill(start, n, true);
  }

  /** Clears bits `[start, start + n)` (`bitmap_clear`). */
  clear(start: number, n: number): void {
    this.fill(start, n, false);
  }

  /** The first set bit in `[start, end)`, or `end` when there is none (`find_next_bit`). */
  findNextBit(end: number, start: number): number {
    return this.scan(end, start, 0);
  }

  /** The first clear bit in `[start, end)`, or `end` when there is none (`find_next_zero_bit`). */
  findNextZeroBit(end: number, start: number): number {
    return this.scan(end, start, -1);
  }

  /**
   * The first run of `nr` clear bits in `[start, end)` whose index plus `offset` is a multiple of
   * `align` (a power of two), or -1: `bitmap_find_next_zero_area_off`, first fit. The offset lets a
   * region whose base is not aligned hand out blocks aligned in absolute terms.
   */
  findNextZeroArea(end: number, start: number, nr: number, align: number, offset: number): number {
    let from = start;
    for (;;) {
      const index = alignUp(this.findNextZeroBit(end, from) + offset, align) - offset;
      const stop = index + nr;
      if (stop > end) return -1;
      const busy = this.findNextBit(stop, index);
      if (busy >= stop) return index;
      from = busy + 1;
    }
  }

  /** Length of the longest run of clear bits in `[0, end)`. */
  longestZeroRun(end: number): number {
    let best = 0;
    let at = 0;
    while (at < end) {
      const zero = this.findNextZeroBit(end, at);
      if (zero >= end) break;
      at = this.findNextBit(end, zero);
      best = Math.max(best, at - zero);
    }
    return best;
  }

  /** First bit in `[start, end)` that differs from `invert` (0: look for a set bit, -1: a clear one). */
  private scan(end: number, start: number, invert: number): number {
    if (start >= end) return end;
    let w = start >>> 5;
    let bits = ((this.words[w] as number) ^ invert) & (-1 << (start & 31));
    while (bits === 0) {
      w += 1;
      if (w * 32 >= end) return end;
      bits = (this.words[w] as number) ^ invert;
    }
    return Math.min(w * 32 + ctz32(bits), end);
  }

  private fill(start: number, n: number, value: boolean): void {
    const end = start + n;
    for (let i = start; i < end; ) {
      const w = i >>> 5;
      const bit = i & 31;
      const count = Math.min(32 - bit, end - i);
      const mask = (-1 >>> (32 - count)) << bit;
      const word = this.words[w] as number;
      this.words[w] = value ? word | mask : word & ~mask;
      i += count;
    }
  }
}
