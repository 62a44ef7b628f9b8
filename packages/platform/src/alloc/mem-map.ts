import { hex, PAGE_SIZE } from '../core/address.js';
import type { RamBank } from '../memory/ram-bank.js';

/** Pages per section: 2 MiB of 4 KiB pages. */
export const SECTION_PAGES = 512;

/**
 * Each page's `struct page` is PAGE_FIELDS consecutive Int32 slots of its section. As in the kernel,
 * the fields are a union: an allocated block's head page holds its counters where a free block's head
 * page holds its free-list links. At 12 bytes a page, the pages a hot loop touches stay in cache.
 */
export const PAGE_FIELDS = 3;
/**
 * What the page is: an allocated block's head (owner id × 16 + order + 1, > 0), a free block's head
 * (-(order + 1), `PageBuddy` + `buddy_order`), or neither (0).
 */
export const F_STATE = 0;
/** Allocated head: `_refcount`. */
export const F_REFCOUNT = 1;
/** Allocated head: `_pincount`. */
export const F_PINCOUNT = 2;
/** Free head: next block on its free list (zone index), -1 at the end. */
export const F_NEXT = 1;
/** Free head: previous block on its free list (zone index), -1 at the start. */
export const F_PREV = 2;

interface BankSections {
  readonly basePfn: number;
  readonly endPfn: number;
  /** Absolute section number (pfn / SECTION_PAGES) of the bank's first page. */
  readonly firstSection: number;
  readonly sections: (Int32Array | undefined)[];
}

/**
 * The model's `mem_map`: one `struct page` per RAM page, sparse. Pages are grouped in 2 MiB sections
 * aligned in physical memory (as `SPARSEMEM` does); a section's typed array is created the first time
 * one of its pages is used, so a large machine costs nothing per page at boot. Banks that share a
 * section share its array.
 *
 * @internal shared by the page allocator and the page counters of this package.
 */
export class MemMap {
  /** Offset of the page's fields in the section returned by the last {@link lookup} or {@link sectionFor}. */
  slot = 0;
  private readonly banks: readonly BankSections[];
  private last: BankSections;

  constructor(banks: readonly RamBank[]) {
    this.banks = banks.map((b) => {
      const basePfn = b.base / PAGE_SIZE;
      const endPfn = basePfn + b.size / PAGE_SIZE;
      const firstSection = Math.floor(basePfn / SECTION_PAGES);
      const sections = Math.floor((endPfn - 1) / SECTION_PAGES) - firstSection + 1;
      return { basePfn, endPfn, firstSection, sections: new Array<Int32Array | undefined>(sections) };
    });
    if (this.banks[0] === undefined) throw new RangeError('MemMap: at least one RAM bank is required');
    this.last = this.banks[0];
  }

  /** The section holding `pfn`, with {@link slot} set; `undefined` when not RAM or never used. */
  lookup(pfn: number): Int32Array | undefined {
    let bank = this.last;
    if (!(pfn >= bank.basePfn && pfn < bank.endPfn)) {
      const found = this.findBank(pfn);
      if (found === undefined) return undefined;
      bank = found;
    }
    const section = Math.floor(pfn / SECTION_PAGES);
    this.slot = (pfn - section * SECTION_PAGES) * PAGE_FIELDS;
    return bank.sections[section - bank.firstSection];
  }

  /**
   * The section holding `pfn`, created if needed, with {@link slot} set.
   * @throws RangeError when `pfn` is not RAM (an allocator bug).
   */
  sectionFor(pfn: number): Int32Array {
    const existing = this.lookup(pfn);
    if (existing !== undefined) return existing;
    const bank = Number.isSafeInteger(pfn) ? this.findBank(pfn) : undefined;
    if (bank === undefined) throw new RangeError(`mem_map: pfn ${hex(pfn)} is not RAM`);
    const section = Math.floor(pfn / SECTION_PAGES);
    const created = new Int32Array(SECTION_PAGES * PAGE_FIELDS);
    for (const b of this.banks) {
      const at = section - b.firstSection;
      if (at >= 0 && at < b.sections.length) b.sections[at] = created;
    }
    return created;
  }

  /** True when every page of `[pfn, pfn + count)` is RAM. */
  covers(pfn: number, count: number): boolean {
    for (let at = pfn; at < pfn + count; ) {
      const bank = this.findBank(at);
      if (bank === undefined) return false;
      at = bank.endPfn;
    }
    return true;
  }

  private findBank(pfn: number): BankSections | undefined {
    for (const bank of this.banks) {
      if (pfn >= bank.basePfn && pfn < bank.endPfn) {
        this.last = bank;
        return bank;
      }
    }
    return undefined;
  }
}
