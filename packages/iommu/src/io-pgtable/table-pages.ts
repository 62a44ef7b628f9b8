import { type KResult, ok, PAGE_SIZE, type PhysicalMemory } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { IoPgtablePageSource } from './types.js';

/** Descriptors per 4 KiB table (`ARM_LPAE_PTES_PER_TABLE` for a 4 KiB granule). */
export const PTES_PER_TABLE = 512;
const WORDS_PER_TABLE = PTES_PER_TABLE * 2;
const FREE = -1;
const NO_VIEW = new Int32Array(0);

// Descriptors are little-endian 64-bit words; the Int32Array views below read them in host order
// (signed words keep V8 on its int32 fast path; bit operations see the same 32 bits).
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('io-pgtable: the model needs a little-endian host to view descriptors as 32-bit words');
}

/**
 * The table pages of one IO page table. Each table is a physical page from the page source, viewed
 * once as 1024 little-endian 32-bit words over `memory.pageBytes(pfn)` — so the descriptors are the
 * page's real bytes — and known by a small slot number. Next to the memory it keeps a shadow of the
 * slot each table descriptor points to: a walk reads the descriptor's address from memory, checks it
 * against the shadow in one compare, and only looks the page up by pfn if they differ.
 */
export class TablePages {
  /** Each live table's 32-bit words, by slot. */
  views: Int32Array[] = [];
  /** Page frame of each slot's table, or -1 for a free slot. */
  slotPfn = new Float64Array(16).fill(FREE);
  /** Shadow: at `slot * 512 + index`, the slot of the table that descriptor links to. */
  child = new Int32Array(16 * PTES_PER_TABLE);
  private readonly freeSlots: number[] = [];
  private readonly slotByPfn = new Map<number, number>();

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly source: IoPgtablePageSource,
  ) {}

  /** Number of live table pages. */
  get count(): number {
    return this.slotByPfn.size;
  }

  /**
   * Takes a page from the source, zeroes it (as `__GFP_ZERO`) and returns its slot; the source's error
   * (ENOMEM) passes through.
   * @throws Error when the source hands out a page that already holds one of our tables (a source bug).
   */
  alloc(): KResult<number> {
    const got = this.source.allocTable();
    if (E.isLeft(got)) return got;
    const pfn = got.right;
    if (this.slotByPfn.has(pfn)) {
      throw new Error(`io-pgtable: the page source handed out pfn ${pfn}, which already holds a table`);
    }
    const bytes = this.memory.pageBytes(pfn);
    const view = new Int32Array(bytes.buffer, bytes.byteOffset, WORDS_PER_TABLE);
    view.fill(0);
    const slot = this.freeSlots.pop() ?? this.grow();
    this.views[slot] = view;
    this.slotPfn[slot] = pfn;
    this.slotByPfn.set(pfn, slot);
    return ok(slot);
  }

  /** Returns a table's page to the source. Its bytes are left as they are, as freed pages are. */
  release(slot: number): void {
    const pfn = this.slotPfn[slot] as number;
    this.slotByPfn.delete(pfn);
    this.slotPfn[slot] = FREE;
    this.views[slot] = NO_VIEW;
    this.freeSlots.push(slot);
    this.source.freeTable(pfn);
  }

  /** The slot holding the table at `pfn`, or -1 when no table of ours lives there. */
  slotOf(pfn: number): number {
    return this.slotByPfn.get(pfn) ?? FREE;
  }

  /** Physical address of a slot's table. */
  physOf(slot: number): number {
    return (this.slotPfn[slot] as number) * PAGE_SIZE;
  }

  private grow(): number {
    const slot = this.views.length;
    if (slot === this.slotPfn.length) {
      const pfns = new Float64Array(slot * 2).fill(FREE);
      pfns.set(this.slotPfn);
      this.slotPfn = pfns;
      const child = new Int32Array(slot * 2 * PTES_PER_TABLE);
      child.set(this.child);
      this.child = child;
    }
    this.views.push(NO_VIEW);
    return slot;
  }
}
