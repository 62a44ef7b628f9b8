import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { type MemoryEvents, PageAllocator, type PageAllocatorOptions } from '../src/alloc/index.js';
import { EventBus, PhysicalMemory, type RamBank, unwrap } from '../src/index.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const PAGE = 4096;

const machine = (banks: readonly RamBank[], options: PageAllocatorOptions = {}) => {
  const memory = new PhysicalMemory(banks);
  const bus = new EventBus<MemoryEvents>('memory');
  return { memory, bus, pa: new PageAllocator(memory, bus, options) };
};

/** One 4 MiB bank at 2 GiB: exactly one free max-order block. */
const oneBlock = () => machine([{ name: 'dram', base: 2 * GiB, size: 4 * MiB }]);
const BASE_PFN = (2 * GiB) / PAGE;

const freeCounts = (pa: PageAllocator): number[][] => pa.buddyInfo().map((z) => [...z.free]);
const errorOf = <T>(r: E.Either<{ code: string; detail: object }, T>) => (E.isLeft(r) ? r.left : undefined);

describe('PageAllocator (buddy allocator)', () => {
  it('a split hands out the lowest part and frees the upper halves, one per order (mm/page_alloc.c expand)', () => {
    const { pa } = oneBlock();
    expect(unwrap(pa.allocPages(0))).toBe(BASE_PFN);
    expect(freeCounts(pa)).toEqual([[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]]);
    expect(unwrap(pa.allocPages(0))).toBe(BASE_PFN + 1);
    expect(unwrap(pa.allocPages(1))).toBe(BASE_PFN + 2);
  });

  it('a freed block merges with its buddy pfn ^ (1 << order) while the buddy is free (mm/internal.h __find_buddy_pfn, mm/page_alloc.c __free_one_page)', () => {
    const { pa } = oneBlock();
    const a = unwrap(pa.allocPages(0));
    const b = unwrap(pa.allocPages(0));
    expect(b).toBe(BASE_PFN + ((a - BASE_PFN) ^ 1));
    unwrap(pa.freePages(a, 0));
    expect(freeCounts(pa)[0]?.[0]).toBe(1);
    unwrap(pa.freePages(b, 0));
    expect(freeCounts(pa)).toEqual([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]]);
  });

  it('a block does not merge with a neighbour of another order (mm/page_alloc.c page_is_buddy)', () => {
    const { pa } = oneBlock();
    const a = unwrap(pa.allocPages(0)); // BASE; order-0 buddy BASE+1 stays free
    const b = unwrap(pa.allocPages(1)); // BASE+2
    unwrap(pa.freePages(b, 1));
    // The order-1 block at BASE+2 cannot merge: its order-1 buddy (BASE) is split, half allocated.
    expect(freeCounts(pa)[0]?.slice(0, 2)).toEqual([1, 1]);
    unwrap(pa.freePages(a, 0));
    expect(freeCounts(pa)).toEqual([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]]);
  });

  it('blocks never merge beyond MAX_PAGE_ORDER, and larger orders are refused (include/linux/mmzone.h)', () => {
    const { pa } = machine([{ name: 'dram', base: 2 * GiB, size: 8 * MiB }]);
    const a = unwrap(pa.allocPages(10));
    const b = unwrap(pa.allocPages(10));
    expect(Math.abs(a - b)).toBe(1024);
    unwrap(pa.freePages(a, 10));
    unwrap(pa.freePages(b, 10));
    expect(freeCounts(pa)[0]?.[10]).toBe(2);
    expect(errorOf(pa.allocPages(11))?.code).toBe('EINVAL');
    expect(errorOf(pa.allocPages(1.5))?.code).toBe('EINVAL');
  });

  it('boot frees each range in the largest naturally aligned blocks that fit (mm/memblock.c __free_pages_memory)', () => {
    // 0x8000_3000 is 3 pages past a 4 MiB boundary; 4 MiB + 5 pages long.
    const { pa } = machine([{ name: 'dram', base: 2 * GiB + 3 * PAGE, size: 4 * MiB + 5 * PAGE }]);
    // Head: pfn +3 (order 0), +4 (2), +8 (3), ... +512 (9); then no full max-order block fits
    // before the tail [+1024, +1024+8): one order-3 block.
    expect(freeCounts(pa)).toEqual([[1, 0, 1, 2, 1, 1, 1, 1, 1, 1, 0]]);
    expect(pa.freePageCount()).toBe(1024 + 5);
    for (let order = 0; order <= 9; order++) {
      const pfn = unwrap(pa.allocPages(order));
      expect(pfn % 2 ** order).toBe(0);
    }
  });

  it('allocations prefer the highest zone and fall back to lower ones (mm/page_alloc.c get_page_from_freelist)', () => {
    const { pa } = machine([
      { name: 'low', base: 2 * GiB, size: 4 * MiB },
      { name: 'high', base: 8 * GiB, size: 4 * MiB },
    ]);
    expect(pa.buddyInfo().map((z) => z.zone)).toEqual(['DMA32', 'Normal']);
    const high = unwrap(pa.allocPages(10));
    expect(high).toBe((8 * GiB) / PAGE);
    expect(unwrap(pa.allocPages(0))).toBe(BASE_PFN);
  });

  it('a GFP_DMA32-style limit keeps the whole block below 4 GiB (include/linux/gfp.h ZONE_DMA32)', () => {
    const { pa } = machine([
      { name: 'low', base: 4 * GiB - 4 * MiB, size: 4 * MiB },
      { name: 'high', base: 4 * GiB, size: 4 * MiB },
    ]);
    const pfn = unwrap(pa.allocPages(3, { maxAddress: 0xffff_ffff }));
    expect((pfn + 8) * PAGE - 1).toBeLessThanOrEqual(0xffff_ffff);
    expect(pa.freePageCount(0xffff_ffff)).toBe(1024 - 8);
    expect(pa.freePageCount()).toBe(2048 - 8);
  });

  it('a limit inside a zone is honoured: only blocks entirely below it qualify (model extension)', () => {
    const { pa } = machine([{ name: 'high', base: 8 * GiB, size: 16 * MiB }]);
    const limit = 8 * GiB + 6 * MiB - 1;
    for (let i = 0; i < 2; i++) {
      const pfn = unwrap(pa.allocPages(9, { maxAddress: limit }));
      expect((pfn + 512) * PAGE - 1).toBeLessThanOrEqual(limit);
    }
    // 4 MiB + 2 MiB below the limit: three order-9 blocks fit, the fourth does not.
    unwrap(pa.allocPages(9, { maxAddress: limit }));
    expect(pa.largestFreeOrder(limit)).toBe(-1);
    const err = errorOf(pa.allocPages(9, { maxAddress: limit }));
    expect(err?.code).toBe('ENOMEM');
    expect(err?.detail).toEqual({ order: 9, maxAddress: limit, largestFreeOrder: -1 });
    expect(pa.largestFreeOrder()).toBe(10);
  });

  it('ENOMEM reports the order asked, the limit and the largest free order (mm/page_alloc.c warn_alloc)', () => {
    const { pa } = oneBlock();
    unwrap(pa.allocPages(9));
    const err = errorOf(pa.allocPages(10));
    expect(err?.code).toBe('ENOMEM');
    expect(err?.detail).toEqual({ order: 10, maxAddress: null, largestFreeOrder: 9 });
    expect(errorOf(pa.allocPages(0, { maxAddress: GiB }))?.detail).toEqual({
      order: 0,
      maxAddress: GiB,
      largestFreeOrder: -1,
    });
  });

  it('excluded ranges (CMA, carveouts) are never handed out (mm/memblock.c memblock_reserve)', () => {
    const excluded = { base: 2 * GiB + MiB + 5 * PAGE, size: MiB };
    const { pa } = machine([{ name: 'dram', base: 2 * GiB, size: 4 * MiB }], { exclude: [excluded] });
    const lo = excluded.base / PAGE;
    const hi = (excluded.base + excluded.size) / PAGE;
    expect(pa.managedPages).toBe(1024 - 256);
    let pages = 0;
    for (let r = pa.allocPages(0); E.isRight(r); r = pa.allocPages(0)) {
      expect(r.right < lo || r.right >= hi).toBe(true);
      pages += 1;
    }
    expect(pages).toBe(1024 - 256);
  });

  it('__GFP_ZERO zeroes the block, and zeroing a never-written page keeps it unmaterialised (mm/page_alloc.c)', () => {
    const { pa, memory } = oneBlock();
    const pfn = unwrap(pa.allocPages(1));
    unwrap(memory.write(pfn * PAGE + 100, new Uint8Array([1, 2, 3]), 0, 3));
    unwrap(pa.freePages(pfn, 1));
    const again = unwrap(pa.allocPages(1, { zeroed: true }));
    expect(again).toBe(pfn);
    const bytes = new Uint8Array(2 * PAGE);
    unwrap(memory.read(pfn * PAGE, bytes, 0, bytes.length));
    expect(bytes.every((b) => b === 0)).toBe(true);
    const resident = memory.residentPages;
    unwrap(pa.allocPages(5, { zeroed: true }));
    expect(memory.residentPages).toBe(resident);
  });

  it('freeing a block that is not allocated, or with the wrong order, is refused (mm/page_alloc.c free_page_is_bad)', () => {
    const { pa } = oneBlock();
    const pfn = unwrap(pa.allocPages(2));
    const before = freeCounts(pa);
    expect(errorOf(pa.freePages(pfn, 1))?.detail).toMatchObject({ allocatedOrder: 2, head: pfn });
    expect(errorOf(pa.freePages(pfn + 1, 0))?.code).toBe('EINVAL');
    expect(errorOf(pa.freePages(pfn + 500, 0))?.code).toBe('EINVAL');
    expect(errorOf(pa.freePages(12345, 0))?.code).toBe('EINVAL');
    expect(freeCounts(pa)).toEqual(before);
    unwrap(pa.freePages(pfn, 2));
    expect(errorOf(pa.freePages(pfn, 2))?.code).toBe('EINVAL');
    expect(freeCounts(pa)).toEqual([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]]);
  });

  it('freeing a pinned block is refused with EBUSY, our model rule (include/linux/mm.h folio_maybe_dma_pinned)', () => {
    const { pa } = oneBlock();
    const pfn = unwrap(pa.allocPages(1));
    unwrap(pa.pages.pin(pfn + 1));
    const err = errorOf(pa.freePages(pfn, 1));
    expect(err?.code).toBe('EBUSY');
    expect(err?.detail).toMatchObject({ pincount: 1 });
    unwrap(pa.pages.unpin(pfn + 1));
    unwrap(pa.freePages(pfn, 1));
  });

  it('freeing a block others still reference is refused with EBUSY: the model wants the last reference (include/linux/mm.h put_page)', () => {
    const { pa } = oneBlock();
    const pfn = unwrap(pa.allocPages(0));
    unwrap(pa.pages.getPage(pfn));
    expect(errorOf(pa.freePages(pfn, 0))?.code).toBe('EBUSY');
    unwrap(pa.pages.putPage(pfn));
    unwrap(pa.freePages(pfn, 0));
  });

  it('emits page-alloc and page-free with pfn and order', () => {
    const { pa, bus } = oneBlock();
    const seen: string[] = [];
    bus.on('page-alloc', (e) => seen.push(`alloc ${e.pfn - BASE_PFN}/${e.order}`));
    bus.on('page-free', (e) => seen.push(`free ${e.pfn - BASE_PFN}/${e.order}`));
    const pfn = unwrap(pa.allocPages(3));
    unwrap(pa.freePages(pfn, 3));
    expect(pa.freePages(pfn, 3)._tag).toBe('Left');
    expect(seen).toEqual(['alloc 0/3', 'free 0/3']);
  });

  it('handles banks far above 4 GiB exactly (pfns beyond 2^28)', () => {
    const base = 2 ** 41 + 3 * PAGE;
    const { pa } = machine([{ name: 'far', base, size: 8 * MiB }]);
    const pfn = unwrap(pa.allocPages(10));
    expect(pfn % 1024).toBe(0);
    expect(pfn * PAGE).toBeGreaterThanOrEqual(base);
    unwrap(pa.freePages(pfn, 10));
    expect(pa.freePageCount()).toBe(2048);
  });

  it('boots a 64 GiB machine without per-page state: max-order blocks stay as ranges', () => {
    const { pa } = machine([
      { name: 'low', base: 2 * GiB, size: 2 * GiB },
      { name: 'high', base: 2 ** 35, size: 62 * GiB },
    ]);
    expect(pa.managedPages).toBe((64 * GiB) / PAGE);
    expect(pa.buddyInfo().map((z) => z.free[10])).toEqual([512, 15872]);
    const pfn = unwrap(pa.allocPages(0));
    expect(pfn).toBe(2 ** 35 / PAGE);
    unwrap(pa.freePages(pfn, 0));
    expect(pa.buddyInfo().map((z) => z.free[10])).toEqual([512, 15872]);
  });
});
