import { ilog2, isPow2, pow2 } from '@sharedbuf/platform';
import { PfnIndex } from './pfn-index.js';

/**
 * The ordered set of allocated IOVA ranges of one {@link IovaDomain}: the model's replacement for the
 * red-black tree `iova_domain.rbroot` of `drivers/iommu/iova.c`.
 *
 * Linux finds a free place by walking predecessor nodes one by one, each a pointer chase. Here the
 * ranges sit in address order in blocks of consecutive entries, and a directory lists the blocks in
 * address order with a summary of each, itself summarised per group of blocks (a B+-tree of height
 * three), so neighbours share cache lines and a search reads summaries sequentially. Each entry also
 * records two values of the free gap just below it:
 * - its length, which decides unaligned requests;
 * - its {@link sizeAlignedFit}: the largest size whose size-aligned placement fits the gap, which
 *   decides size-aligned requests exactly, whatever their size.
 * Each block bounds both values over its entries, and each group over its blocks, so a search skips
 * whole blocks and groups that cannot take the request. The bounds are upper bounds: splitting a gap
 * (an insertion) only lowers the true values, merging gaps (an erase) raises bounds where they fall
 * short, and a search that scans a whole block or group in vain sets its bound to the value it saw.
 *
 * A range is named by its first pfn, its "handle"; a hash index maps handles to blocks, so reaching a
 * range from its first pfn costs a probe and a short binary search. Everything lives in typed arrays:
 * inserting and erasing ranges allocates no objects, except when the arrays grow.
 *
 * The last entry is the anchor, as `iovad->anchor` in Linux: a range above every usable pfn
 * (`pfn_lo = pfn_hi = IOVA_ANCHOR`), so every range has a successor and the search has a top.
 */

/** "No range", as a NULL `struct iova *`. */
export const NIL = -1;

/** The anchor's pfn, and handle: above every usable pfn, as `IOVA_ANCHOR` (`~0UL`) in `drivers/iommu/iova.c`. */
export const IOVA_ANCHOR = Number.POSITIVE_INFINITY;

/**
 * Block sizes of an {@link IovaTree}: entries per block and blocks per directory group, both powers
 * of two ≥ 2. They change speed, never placement; tests shrink them to exercise every rebalancing.
 */
export interface IovaTreeLayout {
  readonly blockEntries: number;
  readonly groupBlocks: number;
}

/** The layout every domain uses unless told otherwise. */
export const DEFAULT_IOVA_TREE_LAYOUT: IovaTreeLayout = { blockEntries: 32, groupBlocks: 64 };

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
const sizeAlignedFit = (start: number, end: number): number => {
  if (end === IOVA_ANCHOR) return IOVA_ANCHOR;
  const gap = end - start;
  if (gap < 1) return 0;
  let block = pow2(floorLog2(gap));
  if (alignUpTo(start, block) + block > end) block /= 2;
  const truncated = end - alignUpTo(start, block * 2);
  return Math.max(truncated, block);
};

/**
 * @internal The blocked ordered set of ranges (see the file comment). Positions — `block *
 * blockEntries + index` — are internal and valid until the next change; callers hold handles.
 */
export class IovaTree {
  private readonly blockEntries: number;
  private readonly groupBlocks: number;
  /** A block with fewer entries is merged with a neighbour when both fit in `mergedMax` entries. */
  private readonly sparse: number;
  private readonly mergedMax: number;
  /** Entries of all blocks: entry `index` of block `b` starts at `(b * blockEntries + index) * STRIDE`. */
  private entries: Float64Array;
  /** Per block: number of entries, and index in the directory. */
  private used: Int32Array;
  private slotOf: Int32Array;
  /**
   * The directory, by index in address order (the first `blockCount` are live): the block, the
   * `pfn_hi` of its last entry, and upper bounds of its entries' size-aligned fits and gap lengths.
   */
  private order: Int32Array;
  private lastHi: Float64Array;
  private boundFit: Float64Array;
  private boundGap: Float64Array;
  /** Per group of `groupBlocks` directory indices: upper bounds over its blocks' bounds. */
  private groupFit: Float64Array;
  private groupGap: Float64Array;
  private blockCount = 0;
  private blockCapacity = INITIAL_BLOCKS;
  /** Unused block numbers, as a stack threaded through `used` (stored as `-2 - next`). */
  private freeBlock = NIL;
  private nextUnusedBlock = 0;
  /** Handle → block. */
  private readonly starts = new PfnIndex();
  /** Handles of ranges parked in an rcache (value 1): model bookkeeping, Linux has no such mark. */
  private readonly parked = new PfnIndex();
  /** Position of the entry just above the place {@link highestFit} last found: the new range's successor. */
  private fitPos = NIL;
  /** `pfn_hi` of the range {@link erase} last removed. */
  erasedHi = 0;
  /** Number of ranges, anchor excluded. */
  count = 0;

  /** Throws a RangeError for a layout whose sizes are not powers of two ≥ 2 (a set-up bug). */
  constructor(layout: IovaTreeLayout = DEFAULT_IOVA_TREE_LAYOUT) {
    const { blockEntries, groupBlocks } = layout;
    if (!isPow2(blockEntries) || blockEntries < 2 || !isPow2(groupBlocks) || groupBlocks < 2) {
      throw new RangeError(`IovaTree: block sizes ${blockEntries}/${groupBlocks} are not powers of two ≥ 2`);
    }
    this.blockEntries = blockEntries;
    this.groupBlocks = groupBlocks;
    this.sparse = blockEntries / 4;
    this.mergedMax = (blockEntries * 3) / 4;
    this.entries = new Float64Array(INITIAL_BLOCKS * blockEntries * STRIDE);
    this.used = new Int32Array(INITIAL_BLOCKS);
    this.slotOf = new Int32Array(INITIAL_BLOCKS);
    this.order = new Int32Array(INITIAL_BLOCKS);
    this.lastHi = new Float64Array(INITIAL_BLOCKS);
    this.boundFit = new Float64Array(INITIAL_BLOCKS);
    this.boundGap = new Float64Array(INITIAL_BLOCKS);
    this.groupFit = new Float64Array(INITIAL_BLOCKS);
    this.groupGap = new Float64Array(INITIAL_BLOCKS);
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
    this.groupFit.fill(0);
    this.groupGap.fill(0);
    const b = this.takeBlock();
    this.openSlot(0, b);
    const at = b * this.blockEntries * STRIDE;
    const e = this.entries;
    e[at + LO] = IOVA_ANCHOR;
    e[at + HI] = IOVA_ANCHOR;
    e[at + PREV_END] = 0;
    e[at + OWN_FIT] = IOVA_ANCHOR;
    this.used[b] = 1;
    this.lastHi[0] = IOVA_ANCHOR;
    this.raiseBounds(0, IOVA_ANCHOR, IOVA_ANCHOR);
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
    const lo = this.entries[this.firstEndingAtOrAbove(pfn) * STRIDE + LO]!;
    return lo <= pfn ? lo : NIL;
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

  /**
   * Erases the range with handle `h` (`rb_erase`); returns the handle of the range that followed it,
   * and leaves the erased range's last pfn in {@link erasedHi}.
   */
  erase(h: number): number {
    const e = this.entries;
    const pos = this.locate(h);
    this.erasedHi = e[pos * STRIDE + HI]!;
    const succ = this.nextPos(pos);
    const sAt = succ * STRIDE;
    const succHandle = e[sAt + LO]!;
    const prevEnd = e[pos * STRIDE + PREV_END]!;
    e[sAt + PREV_END] = prevEnd;
    const fit = sizeAlignedFit(prevEnd, succHandle);
    e[sAt + OWN_FIT] = fit;
    this.raiseBounds(this.slotOf[(succ / this.blockEntries) | 0]!, fit, succHandle - prevEnd);
    const b = (pos / this.blockEntries) | 0;
    const n = this.used[b]! - 1;
    const end = b * this.blockEntries + n + 1;
    e.copyWithin(pos * STRIDE, (pos + 1) * STRIDE, end * STRIDE);
    this.used[b] = n;
    if (pos === end - 1 && n > 0) this.lastHi[this.slotOf[b]!] = e[(pos - 1) * STRIDE + HI]!;
    this.starts.remove(h);
    this.setParked(h, false);
    this.count -= 1;
    if (n === 0) this.dropBlock(b);
    else if (n < this.sparse) this.mergeSparse(b);
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
    this.starts.add(pfnLo, (pos / this.blockEntries) | 0);
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
      const gapTop = Math.min(lo, high);
      const pe = e[at + PREV_END]!;
      const gapBottom = Math.max(pe, low);
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
      const gapTop = Math.min(lo, high);
      const pe = e[at + PREV_END]!;
      const gapBottom = Math.max(pe, low);
      if (gapTop - gapBottom > best) best = gapTop - gapBottom;
      if (pe <= low) return best;
      pos = this.prevCandidate(pos, best + 1, GAP, low + best + 1);
      if (pos === NIL) return best;
    }
  }

  /** Every range in address order, anchor excluded, as `[pfnLo, pfnHi]` pairs. */
  forEach(visit: (pfnLo: number, pfnHi: number) => void): void {
    const e = this.entries;
    for (let k = 0; k < this.blockCount; k++) {
      const b = this.order[k]!;
      const base = b * this.blockEntries;
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
    const b = (pos / this.blockEntries) | 0;
    // The rest of pos's own block, then whole blocks whose bound admits the request.
    for (let p = pos - 1; p >= b * this.blockEntries; p--) {
      const at = p * STRIDE;
      if (e[at + LO]! < floor) return NIL;
      if ((kind === FIT ? e[at + OWN_FIT]! : e[at + LO]! - e[at + PREV_END]!) >= need) return p;
    }
    const { lastHi, boundFit, boundGap, groupBlocks } = this;
    const bounds = kind === FIT ? boundFit : boundGap;
    const groups = kind === FIT ? this.groupFit : this.groupGap;
    // The blocks of a group entered at its top are all seen; if in vain, its bounds become exact.
    let wholeGroup = false;
    let groupFit = 0;
    let groupGap = 0;
    const start = this.slotOf[b]! - 1;
    for (let k = start; k >= 0; k--) {
      if (lastHi[k]! < floor) return NIL;
      const g = (k / groupBlocks) | 0;
      const index = k - g * groupBlocks;
      if (index === groupBlocks - 1 || k === start) {
        if (groups[g]! < need) {
          k -= index;
          continue;
        }
        wholeGroup = index === groupBlocks - 1;
        groupFit = 0;
        groupGap = 0;
      }
      if (bounds[k]! >= need) {
        const p = this.scanBlock(k, need, kind, floor);
        if (p !== NIL) return p;
        if (e[this.order[k]! * this.blockEntries * STRIDE + LO]! < floor) return NIL;
      }
      if (wholeGroup) {
        if (boundFit[k]! > groupFit) groupFit = boundFit[k]!;
        if (boundGap[k]! > groupGap) groupGap = boundGap[k]!;
        if (index === 0) {
          this.groupFit[g] = groupFit;
          this.groupGap[g] = groupGap;
        }
      }
    }
    return NIL;
  }

  /**
   * Scans the block at directory index `k` from the top for an entry whose own `kind` value reaches
   * `need`, stopping below `floor`. A block seen whole in vain gets exact bounds.
   */
  private scanBlock(k: number, need: number, kind: number, floor: number): number {
    const e = this.entries;
    const b = this.order[k]!;
    const base = b * this.blockEntries;
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
    this.boundFit[k] = seenFit;
    this.boundGap[k] = seenGap;
    return NIL;
  }

  /** Raises the bounds of the block at directory index `k`, and of its group, to at least these. */
  private raiseBounds(k: number, fit: number, gap: number): void {
    if (this.boundFit[k]! < fit) this.boundFit[k] = fit;
    if (this.boundGap[k]! < gap) this.boundGap[k] = gap;
    const g = (k / this.groupBlocks) | 0;
    if (this.groupFit[g]! < fit) this.groupFit[g] = fit;
    if (this.groupGap[g]! < gap) this.groupGap[g] = gap;
  }

  /** Inserts `[pfnLo, pfnHi]` just below the entry at `pos`. */
  private insertAt(pos: number, pfnLo: number, pfnHi: number): void {
    const size = this.blockEntries;
    let b = (pos / size) | 0;
    if (this.used[b] === size) {
      this.split(b);
      const kept = this.used[b]!;
      if (pos - b * size >= kept) {
        const nb = this.order[this.slotOf[b]! + 1]!;
        pos = nb * size + (pos - b * size - kept);
        b = nb;
      }
    }
    const e = this.entries;
    const end = b * size + this.used[b]!;
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
    const size = this.blockEntries;
    const nb = this.takeBlock();
    const keep = size / 2;
    const from = b * size + keep;
    const e = this.entries;
    e.copyWithin(nb * size * STRIDE, from * STRIDE, (b + 1) * size * STRIDE);
    this.used[b] = keep;
    this.used[nb] = size - keep;
    this.rehome(nb * size, size - keep, nb);
    const k = this.slotOf[b]!;
    this.openSlot(k + 1, nb);
    this.lastHi[k + 1] = this.lastHi[k]!;
    this.lastHi[k] = e[(from - 1) * STRIDE + HI]!;
    this.exactBounds(k);
    this.exactBounds(k + 1);
  }

  /** Merges sparse block `b` with a neighbour when both fit in a block comfortably. */
  private mergeSparse(b: number): void {
    const k = this.slotOf[b]!;
    if (k + 1 < this.blockCount && this.used[b]! + this.used[this.order[k + 1]!]! <= this.mergedMax) {
      this.absorbNext(k);
    } else if (k > 0 && this.used[b]! + this.used[this.order[k - 1]!]! <= this.mergedMax) {
      this.absorbNext(k - 1);
    }
  }

  /** Appends the entries of the block at directory index `k + 1` to the one at `k`, and drops the former. */
  private absorbNext(k: number): void {
    const size = this.blockEntries;
    const b = this.order[k]!;
    const nb = this.order[k + 1]!;
    const dst = b * size + this.used[b]!;
    const moved = this.used[nb]!;
    this.entries.copyWithin(dst * STRIDE, nb * size * STRIDE, (nb * size + moved) * STRIDE);
    this.rehome(dst, moved, b);
    this.used[b] = this.used[b]! + moved;
    this.lastHi[k] = this.lastHi[k + 1]!;
    this.raiseBounds(k, this.boundFit[k + 1]!, this.boundGap[k + 1]!);
    this.dropBlock(nb);
  }

  /** Removes block `b` from the directory and returns it to the unused ones. */
  private dropBlock(b: number): void {
    const k = this.slotOf[b]!;
    const count = this.blockCount - 1;
    this.order.copyWithin(k, k + 1, count + 1);
    this.lastHi.copyWithin(k, k + 1, count + 1);
    this.boundFit.copyWithin(k, k + 1, count + 1);
    this.boundGap.copyWithin(k, k + 1, count + 1);
    this.blockCount = count;
    for (let j = k; j < count; j++) this.slotOf[this.order[j]!] = j;
    // Each later group gained, at its end, the block that began the group after it.
    const groupBlocks = this.groupBlocks;
    for (let j = (((k / groupBlocks) | 0) + 1) * groupBlocks - 1; j < count; j += groupBlocks) {
      this.raiseBounds(j, this.boundFit[j]!, this.boundGap[j]!);
    }
    this.used[b] = -2 - this.freeBlock;
    this.freeBlock = b;
  }

  /** Makes room at directory index `k` for block `b`, with empty bounds (the caller raises them). */
  private openSlot(k: number, b: number): void {
    const count = this.blockCount;
    this.order.copyWithin(k + 1, k, count);
    this.lastHi.copyWithin(k + 1, k, count);
    this.boundFit.copyWithin(k + 1, k, count);
    this.boundGap.copyWithin(k + 1, k, count);
    this.order[k] = b;
    this.boundFit[k] = 0;
    this.boundGap[k] = 0;
    this.blockCount = count + 1;
    for (let j = k; j <= count; j++) this.slotOf[this.order[j]!] = j;
    // Each later group gained, at its start, the block that ended the group before it.
    const groupBlocks = this.groupBlocks;
    for (let j = (((k / groupBlocks) | 0) + 1) * groupBlocks; j <= count; j += groupBlocks) {
      this.raiseBounds(j, this.boundFit[j]!, this.boundGap[j]!);
    }
  }

  /** Points the index at block `b` for the `count` entries from position `pos` (the anchor is not indexed). */
  private rehome(pos: number, count: number, b: number): void {
    const e = this.entries;
    for (let p = pos; p < pos + count; p++) {
      const lo = e[p * STRIDE + LO]!;
      if (lo !== IOVA_ANCHOR) this.starts.set(lo, b);
    }
  }

  /** Recomputes the bounds of the block at directory index `k` from its entries. */
  private exactBounds(k: number): void {
    const e = this.entries;
    const b = this.order[k]!;
    const base = b * this.blockEntries;
    let fit = 0;
    let gap = 0;
    for (let p = base; p < base + this.used[b]!; p++) {
      const at = p * STRIDE;
      if (e[at + OWN_FIT]! > fit) fit = e[at + OWN_FIT]!;
      if (e[at + LO]! - e[at + PREV_END]! > gap) gap = e[at + LO]! - e[at + PREV_END]!;
    }
    this.boundFit[k] = fit;
    this.boundGap[k] = gap;
    this.raiseBounds(k, fit, gap);
  }

  /** Position of the range with handle `h`, which must exist. */
  private locate(h: number): number {
    const b = h === IOVA_ANCHOR ? this.order[this.blockCount - 1]! : this.starts.get(h);
    const e = this.entries;
    let first = b * this.blockEntries;
    let last = first + this.used[b]! - 1;
    while (first < last) {
      const mid = (first + last) >>> 1;
      if (e[mid * STRIDE + LO]! < h) first = mid + 1;
      else last = mid;
    }
    return first;
  }

  /** Position of the lowest entry whose `pfn_hi` is ≥ `pfn` (the anchor's at worst). */
  private firstEndingAtOrAbove(pfn: number): number {
    const lastHi = this.lastHi;
    let k = 0;
    let kLast = this.blockCount - 1;
    while (k < kLast) {
      const mid = (k + kLast) >>> 1;
      if (lastHi[mid]! < pfn) k = mid + 1;
      else kLast = mid;
    }
    const b = this.order[k]!;
    const e = this.entries;
    let first = b * this.blockEntries;
    let last = first + this.used[b]! - 1;
    while (first < last) {
      const mid = (first + last) >>> 1;
      if (e[mid * STRIDE + HI]! < pfn) first = mid + 1;
      else last = mid;
    }
    return first;
  }

  private nextPos(pos: number): number {
    const b = (pos / this.blockEntries) | 0;
    if (pos + 1 < b * this.blockEntries + this.used[b]!) return pos + 1;
    const k = this.slotOf[b]! + 1;
    return k < this.blockCount ? this.order[k]! * this.blockEntries : NIL;
  }

  private takeBlock(): number {
    let b = this.freeBlock;
    if (b !== NIL) {
      this.freeBlock = -2 - this.used[b]!;
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
    const f64 = (a: Float64Array, length: number) => {
      const copy = new Float64Array(length);
      copy.set(a);
      return copy;
    };
    const i32 = (a: Int32Array) => {
      const copy = new Int32Array(cap);
      copy.set(a);
      return copy;
    };
    this.entries = f64(this.entries, cap * this.blockEntries * STRIDE);
    this.used = i32(this.used);
    this.slotOf = i32(this.slotOf);
    this.order = i32(this.order);
    this.lastHi = f64(this.lastHi, cap);
    this.boundFit = f64(this.boundFit, cap);
    this.boundGap = f64(this.boundGap, cap);
    this.groupFit = f64(this.groupFit, cap);
    this.groupGap = f64(this.groupGap, cap);
    this.blockCapacity = cap;
  }
}
