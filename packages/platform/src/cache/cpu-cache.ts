import { hex, PAGE_SIZE } from '../core/address.js';
import type { EventBus } from '../core/event-bus.js';
import { fail, type KResult, ok } from '../core/kernel-error.js';
import type { Rng } from '../core/rng.js';
import type { PhysicalMemory } from '../memory/physical-memory.js';
import { assertBufferSlice } from './buffer-slice.js';
import type { CacheEvents, CacheMaintenanceOp } from './cache-events.js';
import { LineCopier } from './line-copier.js';

/** Size of a CPU cache line in bytes (`L1_CACHE_BYTES`, and arm64's `ARCH_DMA_MINALIGN`). */
export const CACHE_LINE_SIZE = 64;

const LINE = CACHE_LINE_SIZE;
const LINES_PER_PAGE = PAGE_SIZE / CACHE_LINE_SIZE;
const EMPTY = -1;
const NOT_DIRTY = -1;
const OK: KResult<void> = ok(undefined);

/** Set-up of a {@link CpuCache}. */
export interface CpuCacheConfig {
  /** Capacity in lines (default 8192, i.e. 512 KiB). */
  readonly lines?: number;
  /**
   * Probability, per cached CPU write, that the cache writes one randomly chosen dirty line back on
   * its own (default 0). Real caches do this at moments software cannot predict, which is what
   * makes a missing clean show up only sometimes; fuzzing with a non-zero chance reproduces that.
   */
  readonly spontaneousWritebackChance?: number;
}

/**
 * The CPU's data cache as a DMA-capable device sees it from outside: write-back, write-allocate,
 * 64-byte lines, a bounded number of lines, and a random replacement policy driven by the injected
 * seeded {@link Rng}, so a given seed always evicts the same lines.
 *
 * Lines live in typed arrays; a map finds a line's slot, and a per-page count of cached lines lets a
 * range operation skip every page that holds nothing, so maintenance or snooping over a large buffer
 * with little cached costs O(pages) — or, past a size, one pass over the slots — never O(lines).
 *
 * Maintenance is by physical address, like `dcache_clean_poc` / `dcache_inval_poc` on arm64
 * (`arch/arm64/mm/cache.S`) and `v7_dma_clean_range` / `v7_dma_inv_range` on ARMv7
 * (`arch/arm/mm/cache-v7.S`): see {@link CpuCache.invalidate} for how range edges are treated.
 *
 * Events: what reaches memory unasked (evictions, spontaneous writebacks), dirty data lost, each
 * maintenance call and each snoop that dropped lines. Fills and hits emit nothing: one event per
 * CPU access would drown a trace, and they change nothing another agent can observe.
 */
export class CpuCache {
  /** Capacity in lines. */
  readonly capacity: number;
  /** See {@link CpuCacheConfig.spontaneousWritebackChance}. */
  readonly spontaneousWritebackChance: number;

  private readonly data: Uint8Array;
  /** Line number (address / 64) held by each slot, or EMPTY. */
  private readonly tags: Float64Array;
  /** Position of each slot in `dirtyList`, or NOT_DIRTY: O(1) pick of a random dirty line. */
  private readonly dirtyAt: Int32Array;
  private readonly dirtyList: Int32Array;
  private dirtyCount = 0;
  private readonly freeSlots: Int32Array;
  private freeCount: number;
  private readonly slotOfLine = new Map<number, number>();
  /** Cached lines per page frame, for pages with at least one. */
  private readonly linesInPage = new Map<number, number>();
  private readonly copier = new LineCopier();
  /** Slots found by a range walk; reused so range operations allocate nothing. */
  private readonly scratch: Int32Array;

  /**
   * @param memory the RAM behind the cache.
   * @param events the cache's event bus (trace source `cache`).
   * @param rng the seeded generator that chooses victims and spontaneous writebacks.
   * @throws RangeError on a capacity that is not a positive integer or a chance outside [0, 1].
   */
  constructor(
    readonly memory: PhysicalMemory,
    readonly events: EventBus<CacheEvents>,
    private readonly rng: Rng,
    config: CpuCacheConfig = {},
  ) {
    const lines = config.lines ?? 8192;
    const chance = config.spontaneousWritebackChance ?? 0;
    if (!Number.isSafeInteger(lines) || lines < 1) {
      throw new RangeError(`CpuCache: capacity ${lines} is not a positive number of lines`);
    }
    if (!(chance >= 0 && chance <= 1)) {
      throw new RangeError(`CpuCache: spontaneousWritebackChance ${chance} is not in [0, 1]`);
    }
    this.capacity = lines;
    this.spontaneousWritebackChance = chance;
    this.data = new Uint8Array(lines * LINE);
    this.tags = new Float64Array(lines).fill(EMPTY);
    this.dirtyAt = new Int32Array(lines).fill(NOT_DIRTY);
    this.dirtyList = new Int32Array(lines);
    this.freeSlots = new Int32Array(lines);
    for (let i = 0; i < lines; i++) this.freeSlots[i] = lines - 1 - i;
    this.freeCount = lines;
    this.scratch = new Int32Array(lines);
  }

  /** Number of lines currently cached. */
  cachedLineCount(): number {
    return this.slotOfLine.size;
  }

  /** Number of cached lines holding data newer than memory. */
  dirtyLineCount(): number {
    return this.dirtyCount;
  }

  /** True when the line holding `addr` is cached. */
  isCached(addr: number): boolean {
    return this.slotOfLine.has(Math.floor(addr / LINE));
  }

  /** True when the line holding `addr` is cached and dirty. */
  isDirty(addr: number): boolean {
    const slot = this.slotOfLine.get(Math.floor(addr / LINE));
    return slot !== undefined && this.dirtyAt[slot] !== NOT_DIRTY;
  }

  /**
   * A CPU load through a cacheable mapping: hits are served from the cache, a miss allocates a
   * clean line filled from memory. Use {@link Cpu.read}, which also handles uncached mappings.
   * Errors: EFAULT when the range touches a hole (nothing is read or cached then).
   * @throws RangeError when the buffer slice is invalid.
   */
  read(addr: number, dst: Uint8Array, dstOff: number, length: number): KResult<void> {
    assertBufferSlice('CpuCache.read', dst, dstOff, length);
    const bad = this.checkRange('read', addr, length);
    if (bad !== undefined) return bad;
    for (let done = 0; done < length; ) {
      const a = addr + done;
      const line = Math.floor(a / LINE);
      const inLine = a - line * LINE;
      const n = Math.min(LINE - inLine, length - done);
      const slot = this.lookup(line, false);
      this.copier.copy(dst, dstOff + done, this.data, slot * LINE + inLine, n);
      done += n;
    }
    return OK;
  }

  /**
   * A CPU store through a cacheable mapping: write-allocate (a miss fills the line from memory
   * unless the store covers all of it), and the line becomes dirty; memory is not updated until the
   * line is cleaned, evicted or written back spontaneously. Use {@link Cpu.write}.
   * Errors: EFAULT when the range touches a hole (nothing is written then).
   * @throws RangeError when the buffer slice is invalid.
   */
  write(addr: number, src: Uint8Array, srcOff: number, length: number): KResult<void> {
    assertBufferSlice('CpuCache.write', src, srcOff, length);
    const bad = this.checkRange('write', addr, length);
    if (bad !== undefined) return bad;
    for (let done = 0; done < length; ) {
      const a = addr + done;
      const line = Math.floor(a / LINE);
      const inLine = a - line * LINE;
      const n = Math.min(LINE - inLine, length - done);
      const slot = this.lookup(line, n === LINE);
      this.copier.copy(this.data, slot * LINE + inLine, src, srcOff + done, n);
      this.markDirty(slot);
      done += n;
    }
    if (length > 0) this.maybeWritebackSpontaneously();
    return OK;
  }

  /**
   * Writes every dirty line overlapping the range back to memory and keeps it cached, clean
   * (`dcache_clean_poc`, ARMv7 `v7_dma_clean_range`). Whole lines are written, including bytes
   * outside the range that share a line with it. Emits one `maintenance` event.
   * Errors: EINVAL for a bad length, EFAULT when the range touches a hole (nothing done).
   */
  clean(addr: number, length: number): KResult<void> {
    return this.maintain('clean', addr, length);
  }

  /**
   * Drops every line overlapping the range, exactly: a dirty line's data is DISCARDED, including
   * bytes of a partially covered line that lie outside the range (`dirty-discarded` is emitted).
   *
   * Linux never does this at the edges of a DMA buffer: ARMv7's `v7_dma_inv_range` and arm64's
   * `dcache_inval_poc` clean+invalidate a partial first/last line instead of dropping it. That
   * decision belongs to the caller (the DMA layer), which can clean-invalidate the edge lines
   * first; this primitive models the bare "invalidate by VA to PoC" instruction over whole lines.
   * Emits one `maintenance` event. Errors: EINVAL for a bad length, EFAULT on a hole (nothing done).
   */
  invalidate(addr: number, length: number): KResult<void> {
    return this.maintain('invalidate', addr, length);
  }

  /**
   * Writes back every dirty line overlapping the range, then drops them all (`dcache_clean_inval_poc`,
   * ARMv7 `v7_dma_flush_range`). Nothing is lost. Emits one `maintenance` event.
   * Errors: EINVAL for a bad length, EFAULT when the range touches a hole (nothing done).
   */
  cleanInvalidate(addr: number, length: number): KResult<void> {
    return this.maintain('clean-invalidate', addr, length);
  }

  /**
   * Drops every line overlapping the range without writing it back or reporting it: for memory whose
   * old contents are dead because the CPU has just overwritten it whole, as `clear_page` does through
   * the cache when a page is handed out zeroed. Errors: EFAULT on a hole (nothing done).
   */
  discard(addr: number, length: number): KResult<void> {
    const bad = this.checkRange('discard', addr, length);
    if (bad !== undefined) return bad;
    const found = this.collect(addr, length);
    for (let i = 0; i < found; i++) this.drop(this.scratch[i] as number);
    return OK;
  }

  /**
   * A coherent device's read: memory overlaid with the CPU's dirty lines, so the device sees the
   * CPU's latest stores. Like a snoop hit that supplies data directly, it leaves the cache as it
   * was (dirty lines stay dirty) and emits nothing. Errors: EFAULT on a hole (nothing read).
   * @throws RangeError when the buffer slice is invalid.
   */
  snoopRead(addr: number, dst: Uint8Array, dstOff: number, length: number): KResult<void> {
    assertBufferSlice('CpuCache.snoopRead', dst, dstOff, length);
    const bad = this.checkRange('snoop read', addr, length);
    if (bad !== undefined) return bad;
    this.memory.read(addr, dst, dstOff, length);
    if (this.dirtyCount === 0) return OK;
    const found = this.collect(addr, length);
    for (let i = 0; i < found; i++) {
      const slot = this.scratch[i] as number;
      if (this.dirtyAt[slot] === NOT_DIRTY) continue;
      const lineAddr = (this.tags[slot] as number) * LINE;
      const from = Math.max(lineAddr, addr);
      const to = Math.min(lineAddr + LINE, addr + length);
      this.copier.copy(dst, dstOff + (from - addr), this.data, slot * LINE + (from - lineAddr), to - from);
    }
    return OK;
  }

  /**
   * A coherent device's write: every cached line overlapping the range is dropped, and a dirty one
   * that the write covers only partly is written back first, so the CPU's stores to the rest of
   * that line survive; then the device's bytes land in memory. The CPU's next load misses and sees
   * them. Emits `snoop-invalidate` when any line was dropped. Errors: EFAULT on a hole (nothing done).
   * @throws RangeError when the buffer slice is invalid.
   */
  snoopWrite(addr: number, src: Uint8Array, srcOff: number, length: number): KResult<void> {
    assertBufferSlice('CpuCache.snoopWrite', src, srcOff, length);
    const bad = this.checkRange('snoop write', addr, length);
    if (bad !== undefined) return bad;
    const found = this.collect(addr, length);
    let written = 0;
    for (let i = 0; i < found; i++) {
      const slot = this.scratch[i] as number;
      const lineAddr = (this.tags[slot] as number) * LINE;
      const partial = lineAddr < addr || lineAddr + LINE > addr + length;
      if (partial && this.dirtyAt[slot] !== NOT_DIRTY) {
        this.writeBack(slot);
        written += 1;
      }
      this.drop(slot);
    }
    this.memory.write(addr, src, srcOff, length);
    if (found > 0 && this.events.active) {
      this.events.emit('snoop-invalidate', {
        addr,
        length,
        linesWrittenBack: written,
        linesInvalidated: found,
      });
    }
    return OK;
  }

  private maintain(op: CacheMaintenanceOp, addr: number, length: number): KResult<void> {
    const bad = this.checkRange(op, addr, length);
    if (bad !== undefined) return bad;
    const found = this.collect(addr, length);
    const drop = op !== 'clean';
    const active = this.events.active;
    let written = 0;
    const lost: number[] | undefined = active ? [] : undefined;
    let lostCount = 0;
    for (let i = 0; i < found; i++) {
      const slot = this.scratch[i] as number;
      if (this.dirtyAt[slot] !== NOT_DIRTY) {
        if (op === 'invalidate') {
          lostCount += 1;
          lost?.push((this.tags[slot] as number) * LINE);
        } else {
          this.writeBack(slot);
          written += 1;
        }
      }
      if (drop) this.drop(slot);
    }
    if (lost !== undefined) {
      if (lostCount > 0) {
        lost.sort((a, b) => a - b);
        this.events.emit('dirty-discarded', { addr, length, bytesLost: lostCount * LINE, lineAddrs: lost });
      }
      this.events.emit('maintenance', {
        op,
        addr,
        length,
        linesWrittenBack: written,
        linesInvalidated: drop ? found : 0,
      });
    }
    return OK;
  }

  private checkRange(op: string, addr: number, length: number): KResult<void> | undefined {
    if (!Number.isSafeInteger(length) || length < 0) {
      return fail('EINVAL', `cache ${op}: length ${length} is not a non-negative integer`, {
        op,
        addr,
        length,
      });
    }
    if (!this.memory.isRam(addr, length)) {
      return fail('EFAULT', `cache ${op} of ${length} bytes at ${hex(addr)} touches memory that is not RAM`, {
        op,
        addr,
        length,
      });
    }
    return undefined;
  }

  /**
   * Fills `scratch` with the slots of cached lines overlapping the range; returns how many. Walks
   * the range's pages (skipping pages with no cached line) while that is cheaper than one pass over
   * all slots, which bounds the cost of a huge range by the capacity.
   */
  private collect(addr: number, length: number): number {
    if (length === 0 || this.slotOfLine.size === 0) return 0;
    const firstLine = Math.floor(addr / LINE);
    const lastLine = Math.floor((addr + length - 1) / LINE);
    const firstPfn = Math.floor(firstLine / LINES_PER_PAGE);
    const lastPfn = Math.floor(lastLine / LINES_PER_PAGE);
    let found = 0;
    if ((lastPfn - firstPfn + 1) * 8 <= this.capacity) {
      for (let pfn = firstPfn; pfn <= lastPfn; pfn++) {
        if (!this.linesInPage.has(pfn)) continue;
        const from = Math.max(firstLine, pfn * LINES_PER_PAGE);
        const to = Math.min(lastLine, pfn * LINES_PER_PAGE + LINES_PER_PAGE - 1);
        for (let line = from; line <= to; line++) {
          const slot = this.slotOfLine.get(line);
          if (slot !== undefined) this.scratch[found++] = slot;
        }
      }
    } else {
      for (let slot = 0; slot < this.capacity; slot++) {
        const tag = this.tags[slot] as number;
        if (tag >= firstLine && tag <= lastLine) this.scratch[found++] = slot;
      }
    }
    return found;
  }

  /** The slot holding `line`, allocating (and filling, unless it is about to be overwritten) on a miss. */
  private lookup(line: number, overwriteWhole: boolean): number {
    const hit = this.slotOfLine.get(line);
    if (hit !== undefined) return hit;
    if (this.freeCount === 0) this.evict(this.rng.below(this.capacity));
    const slot = this.freeSlots[--this.freeCount] as number;
    this.tags[slot] = line;
    this.slotOfLine.set(line, slot);
    const pfn = Math.floor(line / LINES_PER_PAGE);
    this.linesInPage.set(pfn, (this.linesInPage.get(pfn) ?? 0) + 1);
    if (!overwriteWhole) this.fill(slot, line);
    return slot;
  }

  private evict(slot: number): void {
    if (this.dirtyAt[slot] !== NOT_DIRTY) {
      this.writeBack(slot);
      if (this.events.active) {
        this.events.emit('writeback', { addr: (this.tags[slot] as number) * LINE, reason: 'eviction' });
      }
    }
    this.drop(slot);
  }

  private maybeWritebackSpontaneously(): void {
    const chance = this.spontaneousWritebackChance;
    if (chance === 0 || this.dirtyCount === 0 || !this.rng.chance(chance)) return;
    const slot = this.dirtyList[this.rng.below(this.dirtyCount)] as number;
    this.writeBack(slot);
    if (this.events.active) {
      this.events.emit('writeback', { addr: (this.tags[slot] as number) * LINE, reason: 'spontaneous' });
    }
  }

  private drop(slot: number): void {
    const line = this.tags[slot] as number;
    this.slotOfLine.delete(line);
    const pfn = Math.floor(line / LINES_PER_PAGE);
    const left = (this.linesInPage.get(pfn) ?? 1) - 1;
    if (left === 0) this.linesInPage.delete(pfn);
    else this.linesInPage.set(pfn, left);
    this.markClean(slot);
    this.tags[slot] = EMPTY;
    this.freeSlots[this.freeCount++] = slot;
  }

  private fill(slot: number, line: number): void {
    const pfn = Math.floor(line / LINES_PER_PAGE);
    const page = this.memory.peekPage(pfn);
    if (page === undefined) this.data.fill(0, slot * LINE, slot * LINE + LINE);
    else this.copier.copy(this.data, slot * LINE, page, (line - pfn * LINES_PER_PAGE) * LINE, LINE);
  }

  private writeBack(slot: number): void {
    const line = this.tags[slot] as number;
    const pfn = Math.floor(line / LINES_PER_PAGE);
    const page = this.memory.pageBytes(pfn);
    this.copier.copy(page, (line - pfn * LINES_PER_PAGE) * LINE, this.data, slot * LINE, LINE);
    this.markClean(slot);
  }

  private markDirty(slot: number): void {
    if (this.dirtyAt[slot] !== NOT_DIRTY) return;
    this.dirtyAt[slot] = this.dirtyCount;
    this.dirtyList[this.dirtyCount++] = slot;
  }

  private markClean(slot: number): void {
    const at = this.dirtyAt[slot] as number;
    if (at === NOT_DIRTY) return;
    const last = this.dirtyList[--this.dirtyCount] as number;
    this.dirtyList[at] = last;
    this.dirtyAt[last] = at;
    this.dirtyAt[slot] = NOT_DIRTY;
  }
}
