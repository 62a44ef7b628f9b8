import { ilog2, pow2 } from '@sharedbuf/platform';
import { PfnIndex } from './pfn-index.js';

/**
 * The ordered set of allocated IOVA ranges of one {@link IovaDomain}: the model's replacement for the
 * red-black tree `iova_domain.rbroot` of `drivers/iommu/iova.c`.
 *
 * Linux finds a free place by walking predecessor nodes one by one, each a pointer chase. Here the
 * ranges sit in address order in blocks of up to {@link BLOCK_ENTRIES} consecutive entries (a B+-tree
 * of height two: the blocks, and a directory of blocks in address order), so neighbours share cache
 * lines. Each entry also records two values of the free gap just below it:
 * - its length, which decides unaligned requests;
 * - its {@link sizeAlignedFit}: the largest size whose size-aligned placement fits the gap, which
 *   decides size-aligned requests exactly, whatever their size.
 * Each block bounds both values over its entries, so a search skips whole blocks that cannot take the
 * request. The bounds are upper bounds: splitting a gap (an insertion) only lowers the true values,
 * merging gaps (an erase) raises a bound where it falls short, and a search that scans a whole block
 * in vain sets the block's bound to the exact value it saw.
 *
 * A range is named by its first pfn, its "handle"; a hash index maps handles to blocks, so reaching a
 * range from its first pfn costs a probe and a short binary search. Everything lives in typed arrays:
 * inserting and erasing ranges allocates no objects (except when the arrays grow).
 *
 * The last entry is the anchor, as `iovad->anchor` in Linux: a range above every usable pfn
 * (`pfn_lo = pfn_hi = IOVA_ANCHOR`), so every range has a successor and the search has a top.
 */

/** "No range", as a NULL `struct iova *`. */
export const NIL = -1;

/** The anchor's pfn, and handle: above every usable pfn, as `IOVA_ANCHOR` (`~0UL`) in `drivers/iommu/iova.c`. */
export const IOVA_ANCHOR = Number.POSITIVE_INFINITY;

/** Entries per block. */
export const BLOCK_ENTRIES = 32;
/** A block this sparse is merged with a neighbour when both fit in {@link MERGED_MAX} entries. */
const SPARSE = BLOCK_ENTRIES / 4;
const MERGED_MAX = (BLOCK_ENTRIES * 3) / 4;
/** Entry layout: four doubles — `pfn_lo`, `pfn_hi`, one past the previous range's end, the gap's fit. */
const STRIDE = 4;
const LO = 0;
const HI = 1;
const PREV_END = 2;
const OWN_FIT = 3;
/** Which gap value a search is guided by. */
const FIT = 0;
const GAP = 1;

const INITIAL_BLOCKS = 8;

/** `alignUp(pfn, block)` for a power-of-two block, exact for any safe integer. */
const alignUpTo = (pfn: number, block: number): number => Math.ceil(pfn / block) * block;

/** `ilog2(n)` for 1 ≤ n, exact for any safe integer. */
const floorLog2 = (n: number): number => (n < 0x1_0000_0000 ? 31 - Math.clz32(n) : ilog2(n));

/**
 * The largest size `s` whose size-aligned placement (a multiple of `roundup_pow_of_two(s)`) fits in
 * the free pfns `[start, end)`. A size-aligned request of size `s` fits the gap exactly when this is
 * at least `s`.
 *
 * Why: with `A = roundup_pow_of_two(s)`, `s` fits iff `end - alignUp(start, A) ≥ s`. Let `B` be the
 * largest power of two whose aligned block lies wholly inside the gap: every size up to `B` fits, and
 * above it the best is the block truncated by the gap's end at alignment `2B`. A gap of length `g`
 * always holds an aligned block of `2^(ilog2(g) - 1)` pages, so `B` is that or `2^ilog2(g)`.
 */
export const sizeAlignedFit = (start: number, end: number): number => {
  if (end === IOVA_ANCHOR) return IOVA_ANCHOR;
  const gap = end - start;
  if (gap < 1) return 0;
  let block = pow2(floorLog2(gap));
  if (alignUpTo(start, block) + block > end) block /= 2;
  const truncated = end - alignUpTo(start, block * 2);
  return truncated > block ? truncated : block;
};

/**
 * @internal The blocked ordered set of ranges (see the file comment). Positions — `block *
 * BLOCK_ENTRIES + index` — are internal and valid until the next change; callers hold handles.
 */
export class IovaTree {
  /** Entries of all blocks: entry `index` of block `b` starts at `(b * BLOCK_ENTRIES + index) * STRIDE`. */
  private entries: Float64Array;
  /** Per block: number of entries. */
  private used: Int32Array;
  /** Per block: neighbours in address order, or {@link NIL}. */
  private prevBlock: Int32Array;
  private nextBlock: Int32Array;
  /** Per block: `pfn_hi` of its last entry (kept while the block empties, to find it in `order`). */
  private lastHi: Float64Array;
  /** Per block: upper bounds of the entries' size-aligned fits and gap lengths. */
  private boundFit: Float64Array;
  private boundGap: Float64Array;
  /** Blocks in address order (the directory); the first `blockCount` are live. */
  private order: Int32Array;
  private blockCount = 0;
  private blockCapacity = INITIAL_BLOCKS;
  /** Unused block numbers, as a stack threaded through `nextBlock`. */
  private freeBlock = NIL;
  private nextUnusedBlock = 0;
  /** Handle → block. */
  private readonly starts = new PfnIndex();
  /** Handles of ranges parked in an rcache (value 1): model bookkeeping, Linux has no such mark. */
  private readonly parked = new PfnIndex();
  /** Position of the entry just above the place {@link highestFit} last found: the new range's successor. */
  private fitPos = NIL;
  /** Number of ranges, anchor excluded. */
  count = 0;

  constructor() {
    this.entries = new Float64Array(INITIAL_BLOCKS * BLOCK_ENTRIES * STRIDE);
    this.used = new Int32Array(INITIAL_BLOCKS);
    this.prevBlock = new Int32Array(INITIAL_BLOCKS);
    this.nextBlock = new Int32Array(INITIAL_BLOCKS);
    this.lastHi = new Float64Array(INITIAL_BLOCKS);
    this.boundFit = new Float64Array(INITIAL_BLOCKS);
    this.boundGap = new Float64Array(INITIAL_BLOCKS);
    this.order = new Int32Array(INITIAL_BLOCKS);
    this.reset();
  }

  /** Drops every range, keeping only the anchor. */
  reset(): void {
    this.blockCount = 0;
    this.freeBlock = NIL;
    this.nextUnusedBlock = 0;
    this.starts.clear();
    this.parked.clear();
    this.count = 0;
    const b = this.takeBlock();
    this.prevBlock[b] = NIL;
    this.nextBlock[b] = NIL;
    this.order[0] = b;
    this.blockCount = 1;
    const at = b * BLOCK_ENTRIES * STRIDE;
    this.entries[at + LO] = IOVA_ANCHOR;
    this.entries[at + HI] = IOVA_ANCHOR;
    this.entries[at + PREV_END] = 0;
    this.entries[at + OWN_FIT] = IOVA_ANCHOR;
    this.used[b] = 1;
    this.lastHi[b] = IOVA_ANCHOR;
    this.boundFit[b] = IOVA_ANCHOR;
    this.boundGap[b] = IOVA_ANCHOR;
  }

  /** Last pfn of the range with handle `h`. */
  pfnHi(h: number): number {
    return this.entries[this.locate(h) * STRIDE + HI]!;
  }

  /** True while the range with handle `h` is parked in an rcache. */
  isParked(h: number): boolean {
    return this.parked.get(h) === 1;
  }

  /** Marks the range with handle `h` as parked in an rcache, or not. */
  setParked(h: number, parked: boolean): void {
    if (parked) this.parked.add(h, 1);
    else if (this.isParked(h)) this.parked.remove(h);
  }

  /** Handle of the range containing `pfn`, or {@link NIL} (`private_find_iova`). */
  find(pfn: number): number {
    if (this.starts.get(pfn) !== NIL) return pfn;
    const at = this.firstEndingAtOrAbove(pfn) * STRIDE;
    return this.entries[at + LO]! <= pfn ? this.entries[at + LO]! : NIL;
  }

  /** Handle of the lowest range whose last pfn is ≥ `pfn` (the anchor when none reaches that high). */
  firstEndingAt(pfn: number): number {
    return this.entries[this.firstEndingAtOrAbove(pfn) * STRIDE + LO]!;
  }

  /** Handle of the range after `h` (`rb_next`), {@link NIL} after the anchor. */
  next(h: number): number {
    const pos = this.nextPos(this.locate(h));
    return pos === NIL ? NIL : this.entries[pos * STRIDE + LO]!;
  }

  /** Handle of the lowest range (the anchor when empty), as `rb_first`. */
  first(): number {
    return this.entries[this.order[0]! * BLOCK_ENTRIES * STRIDE + LO]!;
  }

  /**
   * Inserts `[pfnLo, pfnHi]` just below the range with handle `succ`. The caller guarantees it lies
   * strictly between `succ`'s predecessor and `succ` (as `iova_insert_rbtree` assumes no overlap).
   */
  insertBefore(succ: number, pfnLo: number, pfnHi: number): void {
    this.insertAt(this.locate(succ), pfnLo, pfnHi);
  }

  /** Inserts `[pfnLo, pfnHi]` at the place {@link highestFit} just found. */
  insertAtFit(pfnLo: number, pfnHi: number): void {
    this.insertAt(this.fitPos, pfnLo, pfnHi);
  }

  /** Erases the range with handle `h` (`rb_erase`); returns the handle of the range that followed it. */
  erase(h: number): number {
    const e = this.entries;
    const pos = this.locate(h);
    const succ = this.nextPos(pos);
    const sAt = succ * STRIDE;
    const succHandle = e[sAt + LO]!;
    const prevEnd = e[pos * STRIDE + PREV_END]!;
    e[sAt + PREV_END] = prevEnd;
    const fit = sizeAlignedFit(prevEnd, e[sAt + LO]!);
    e[sAt + OWN_FIT] = fit;
    const sb = (succ / BLOCK_ENTRIES) | 0;
    if (this.boundFit[sb]! < fit) this.boundFit[sb] = fit;
    if (this.boundGap[sb]! < e[sAt + LO]! - prevEnd) this.boundGap[sb] = e[sAt + LO]! - prevEnd;
    const b = (pos / BLOCK_ENTRIES) | 0;
    const n = this.used[b]! - 1;
    const base = b * BLOCK_ENTRIES;
    e.copyWithin(pos * STRIDE, (pos + 1) * STRIDE, (base + n + 1) * STRIDE);
    this.used[b] = n;
    if (pos === base + n && n > 0) this.lastHi[b] = e[(pos - 1) * STRIDE + HI]!;
    this.starts.remove(h);
    this.setParked(h, false);
    this.count -= 1;
    if (n === 0) this.dropBlock(b);
    else if (n < SPARSE) this.mergeSparse(b);
    return succHandle;
  }

  /**
   * Moves the first pfn of the range with handle `h` down to `pfnLo` (reserve_iova's
   * `__adjust_overlap_range`); its handle becomes `pfnLo`. Order is unchanged and the gap below only
   * shrinks, so the bounds stay valid.
   */
  lowerStart(h: number, pfnLo: number): void {
    const pos = this.locate(h);
    const at = pos * STRIDE;
    this.entries[at + LO] = pfnLo;
    this.entries[at + OWN_FIT] = sizeAlignedFit(this.entries[at + PREV_END]!, pfnLo);
    this.starts.remove(h);
    this.starts.add(pfnLo, (pos / BLOCK_ENTRIES) | 0);
    if (this.isParked(h)) {
      this.parked.remove(h);
      this.parked.add(pfnLo, 1);
    }
  }

  /**
   * The highest `p`, a multiple of `align`, such that `[p, p + size)` is free and lies within
   * `[low, high)`; -1 when there is none. `align` is 1 or `roundup_pow_of_two(size)`. `top` may be
   * the handle of the lowest range ending at or above `high` when the caller knows it, else
   * {@link NIL}. On success {@link insertAtFit} inserts there.
   *
   * This is the place Linux's `__alloc_and_insert_iova_range` reaches by walking predecessors from a
   * start node, found instead by visiting only gaps that may take the request, highest first.
   */
  highestFit(low: number, high: number, size: number, align: number, top: number): number {
    if (high - low < size) return -1;
    const e = this.entries;
    const floor = low + size;
    const kind = align > 1 ? FIT : GAP;
    let pos = top === NIL ? this.firstEndingAtOrAbove(high) : this.locate(top);
    for (;;) {
      const at = pos * STRIDE;
      const lo = e[at + LO]!;
      const gapTop = lo < high ? lo : high;
      const pe = e[at + PREV_END]!;
      const gapBottom = pe > low ? pe : low;
      if (gapTop - gapBottom >= size) {
        const p = Math.floor((gapTop - size) / align) * align;
        if (p >= gapBottom) {
          this.fitPos = pos;
          return p;
        }
      }
      if (pe <= low) return -1;
      pos = this.prevCandidate(pos, size, kind, floor);
      if (pos === NIL) return -1;
    }
  }

  /** Length of the largest free run within `[low, high)` (0 when none). */
  largestGap(low: number, high: number): number {
    if (high <= low) return 0;
    const e = this.entries;
    let best = 0;
    let pos = this.firstEndingAtOrAbove(high);
    for (;;) {
      const at = pos * STRIDE;
      const lo = e[at + LO]!;
      const gapTop = lo < high ? lo : high;
      const pe = e[at + PREV_END]!;
      const gapBottom = pe > low ? pe : low;
      if (gapTop - gapBottom > best) best = gapTop - gapBottom;
      if (pe <= low) return best;
      pos = this.prevCandidate(pos, best + 1, GAP, low + best + 1);
      if (pos === NIL) return best;
    }
  }

  /** Every range in address order, anchor excluded, as `[pfnLo, pfnHi]` pairs. */
  forEach(visit: (pfnLo: number, pfnHi: number) => void): void {
    const e = this.entries;
    for (let b = this.order[0]!; b !== NIL; b = this.nextBlock[b]!) {
      const base = b * BLOCK_ENTRIES;
      for (let pos = base; pos < base + this.used[b]!; pos++) {
        const lo = e[pos * STRIDE + LO]!;
        if (lo !== IOVA_ANCHOR) visit(lo, e[pos * STRIDE + HI]!);
      }
    }
  }

  /**
   * The position of the nearest entry below `pos` whose own `kind` value reaches `need`, or
   * {@link NIL} when there is none whose `pfn_lo` is at least `floor`.
   */
  private prevCandidate(pos: number, need: number, kind: number, floor: number): number {
    const e = this.entries;
    let b = (pos / BLOCK_ENTRIES) | 0;
    let base = b * BLOCK_ENTRIES;
    // The rest of pos's own block, then whole blocks whose bound admits the request.
    for (let p = pos - 1; p >= base; p--) {
      const at = p * STRIDE;
      if (e[at + LO]! < floor) return NIL;
      if ((kind === FIT ? e[at + OWN_FIT]! : e[at + LO]! - e[at + PREV_END]!) >= need) return p;
    }
    for (;;) {
      b = this.prevBlock[b]!;
      if (b === NIL || this.lastHi[b]! < floor) return NIL;
      if ((kind === FIT ? this.boundFit[b]! : this.boundGap[b]!) < need) continue;
      base = b * BLOCK_ENTRIES;
      let seenFit = 0;
      let seenGap = 0;
      for (let p = base + this.used[b]! - 1; p >= base; p--) {
        const at = p * STRIDE;
        const lo = e[at + LO]!;
        if (lo < floor) return NIL;
        const fit = e[at + OWN_FIT]!;
        const gap = lo - e[at + PREV_END]!;
        if ((kind === FIT ? fit : gap) >= need) return p;
        if (fit > seenFit) seenFit = fit;
        if (gap > seenGap) seenGap = gap;
      }
      // The whole block was seen in vain: its bounds become exact.
      this.boundFit[b] = seenFit;
      this.boundGap[b] = seenGap;
    }
  }

  /** Inserts `[pfnLo, pfnHi]` just below the entry at `pos`. */
  private insertAt(pos: number, pfnLo: number, pfnHi: number): void {
    let b = (pos / BLOCK_ENTRIES) | 0;
    if (this.used[b] === BLOCK_ENTRIES) {
      this.split(b);
      const kept = this.used[b]!;
      if (pos - b * BLOCK_ENTRIES >= kept) {
        const nb = this.nextBlock[b]!;
        pos = nb * BLOCK_ENTRIES + (pos - b * BLOCK_ENTRIES - kept);
        b = nb;
      }
    }
    const e = this.entries;
    const end = b * BLOCK_ENTRIES + this.used[b]!;
    e.copyWithin((pos + 1) * STRIDE, pos * STRIDE, end * STRIDE);
    const at = pos * STRIDE;
    const sAt = at + STRIDE;
    const prevEnd = e[sAt + PREV_END]!;
    e[at + LO] = pfnLo;
    e[at + HI] = pfnHi;
    e[at + PREV_END] = prevEnd;
    e[at + OWN_FIT] = sizeAlignedFit(prevEnd, pfnLo);
    e[sAt + PREV_END] = pfnHi + 1;
    e[sAt + OWN_FIT] = sizeAlignedFit(pfnHi + 1, e[sAt + LO]!);
    this.used[b] = this.used[b]! + 1;
    this.starts.add(pfnLo, b);
    this.count += 1;
  }

  /** Moves the upper half of full block `b` to a new block just after it. */
  private split(b: number): void {
    const k = this.orderIndex(b);
    const nb = this.takeBlock();
    const keep = BLOCK_ENTRIES / 2;
    const e = this.entries;
    const from = b * BLOCK_ENTRIES + keep;
    e.copyWithin(nb * BLOCK_ENTRIES * STRIDE, from * STRIDE, (b + 1) * BLOCK_ENTRIES * STRIDE);
    const moved = BLOCK_ENTRIES - keep;
    this.used[b] = keep;
    this.used[nb] = moved;
    this.lastHi[nb] = this.lastHi[b]!;
    this.lastHi[b] = e[(from - 1) * STRIDE + HI]!;
    for (let j = 0; j < moved; j++) this.starts.set(e[(nb * BLOCK_ENTRIES + j) * STRIDE + LO]!, nb);
    this.exactBounds(b);
    this.exactBounds(nb);
    const after = this.nextBlock[b]!;
    this.prevBlock[nb] = b;
    this.nextBlock[nb] = after;
    this.nextBlock[b] = nb;
    if (after !== NIL) this.prevBlock[after] = nb;
    this.order.copyWithin(k + 2, k + 1, this.blockCount);
    this.order[k + 1] = nb;
    this.blockCount += 1;
  }

  /** Merges sparse block `b` with a neighbour when both fit in a block comfortably. */
  private mergeSparse(b: number): void {
    const next = this.nextBlock[b]!;
    if (next !== NIL && this.used[b]! + this.used[next]! <= MERGED_MAX) {
      this.absorbNext(b);
      return;
    }
    const prev = this.prevBlock[b]!;
    if (prev !== NIL && this.used[b]! + this.used[prev]! <= MERGED_MAX) this.absorbNext(prev);
  }

  /** Appends the entries of the block after `b` to `b`, then drops that block. */
  private absorbNext(b: number): void {
    const nb = this.nextBlock[b]!;
    const e = this.entries;
    const dst = b * BLOCK_ENTRIES + this.used[b]!;
    const moved = this.used[nb]!;
    e.copyWithin(dst * STRIDE, nb * BLOCK_ENTRIES * STRIDE, (nb * BLOCK_ENTRIES + moved) * STRIDE);
    for (let j = 0; j < moved; j++) this.starts.set(e[(dst + j) * STRIDE + LO]!, b);
    this.used[b] = this.used[b]! + moved;
    if (this.boundFit[nb]! > this.boundFit[b]!) this.boundFit[b] = this.boundFit[nb]!;
    if (this.boundGap[nb]! > this.boundGap[b]!) this.boundGap[b] = this.boundGap[nb]!;
    const lastHi = this.lastHi[nb]!;
    this.used[nb] = 0;
    // Dropped while b still ends lower, so the directory search finds nb, not b.
    this.dropBlock(nb);
    this.lastHi[b] = lastHi;
  }

  /** Unlinks empty block `b` from the directory and the neighbour links. */
  private dropBlock(b: number): void {
    const k = this.orderIndex(b);
    this.order.copyWithin(k, k + 1, this.blockCount);
    this.blockCount -= 1;
    const prev = this.prevBlock[b]!;
    const next = this.nextBlock[b]!;
    if (prev !== NIL) this.nextBlock[prev] = next;
    if (next !== NIL) this.prevBlock[next] = prev;
    this.nextBlock[b] = this.freeBlock;
    this.freeBlock = b;
  }

  private exactBounds(b: number): void {
    const e = this.entries;
    const base = b * BLOCK_ENTRIES;
    let fit = 0;
    let gap = 0;
    for (let p = base; p < base + this.used[b]!; p++) {
      const at = p * STRIDE;
      if (e[at + OWN_FIT]! > fit) fit = e[at + OWN_FIT]!;
      if (e[at + LO]! - e[at + PREV_END]! > gap) gap = e[at + LO]! - e[at + PREV_END]!;
    }
    this.boundFit[b] = fit;
    this.boundGap[b] = gap;
  }

  /** Position of the range with handle `h`, which must exist. */
  private locate(h: number): number {
    if (h === IOVA_ANCHOR) {
      const b = this.order[this.blockCount - 1]!;
      return b * BLOCK_ENTRIES + this.used[b]! - 1;
    }
    const b = this.starts.get(h);
    const e = this.entries;
    let lo = b * BLOCK_ENTRIES;
    let hi = lo + this.used[b]! - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (e[mid * STRIDE + LO]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Position of the lowest entry whose `pfn_hi` is ≥ `pfn` (the anchor's at worst). */
  private firstEndingAtOrAbove(pfn: number): number {
    const { order, lastHi } = this;
    let lo = 0;
    let hi = this.blockCount - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (lastHi[order[mid]!]! < pfn) lo = mid + 1;
      else hi = mid;
    }
    const b = order[lo]!;
    const e = this.entries;
    let first = b * BLOCK_ENTRIES;
    let last = first + this.used[b]! - 1;
    while (first < last) {
      const mid = (first + last) >>> 1;
      if (e[mid * STRIDE + HI]! < pfn) first = mid + 1;
      else last = mid;
    }
    return first;
  }

  /** Directory index of block `b` (found by its last pfn). */
  private orderIndex(b: number): number {
    const { order, lastHi } = this;
    const key = lastHi[b]!;
    let lo = 0;
    let hi = this.blockCount - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (lastHi[order[mid]!]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private nextPos(pos: number): number {
    const b = (pos / BLOCK_ENTRIES) | 0;
    if (pos + 1 < b * BLOCK_ENTRIES + this.used[b]!) return pos + 1;
    const nb = this.nextBlock[b]!;
    return nb === NIL ? NIL : nb * BLOCK_ENTRIES;
  }

  private takeBlock(): number {
    let b = this.freeBlock;
    if (b !== NIL) {
      this.freeBlock = this.nextBlock[b]!;
    } else {
      if (this.nextUnusedBlock === this.blockCapacity) this.grow();
      b = this.nextUnusedBlock;
      this.nextUnusedBlock += 1;
    }
    this.used[b] = 0;
    return b;
  }

  private grow(): void {
    const cap = this.blockCapacity * 2;
    const entries = new Float64Array(cap * BLOCK_ENTRIES * STRIDE);
    entries.set(this.entries);
    this.entries = entries;
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.used = i32(this.used);
    this.prevBlock = i32(this.prevBlock);
    this.nextBlock = i32(this.nextBlock);
    this.order = i32(this.order);
    this.lastHi = f64(this.lastHi);
    this.boundFit = f64(this.boundFit);
    this.boundGap = f64(this.boundGap);
    this.blockCapacity = cap;
  }
}
