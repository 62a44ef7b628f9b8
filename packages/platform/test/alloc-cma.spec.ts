import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { ContiguousAllocator, type MemoryEvents, PageAllocator, PageMetadata } from '../src/alloc/index.js';
import { EventBus, PhysicalMemory, unwrap } from '../src/index.js';

const PAGE = 4096;
const DRAM = { name: 'dram', base: 2 ** 31, size: 2 ** 24 };
const errorOf = <T>(r: E.Either<{ code: string; detail: object }, T>) => (E.isLeft(r) ? r.left : undefined);

const region = (base: number, pages: number) => {
  const bus = new EventBus<MemoryEvents>('memory');
  const cma = new ContiguousAllocator({ name: 'reserved', base, size: pages * PAGE }, bus);
  return { bus, cma, basePfn: base / PAGE };
};

describe('ContiguousAllocator (CMA)', () => {
  it('cma_alloc takes the first free run in the region bitmap (mm/cma.c cma_alloc, lib/bitmap.c bitmap_find_next_zero_area_off)', () => {
    const { cma, basePfn } = region(DRAM.base, 64);
    expect(unwrap(cma.alloc(4, 0))).toBe(basePfn);
    expect(unwrap(cma.alloc(2, 0))).toBe(basePfn + 4);
    unwrap(cma.release(basePfn, 4));
    expect(unwrap(cma.alloc(3, 0))).toBe(basePfn);
    expect(unwrap(cma.alloc(2, 0))).toBe(basePfn + 6);
    expect(cma.usedPages).toBe(7);
  });

  it('alignment is in absolute pfns even when the region base is not aligned (mm/cma.c cma_bitmap_aligned_offset)', () => {
    const { cma, basePfn } = region(DRAM.base + 3 * PAGE, 64);
    expect(unwrap(cma.alloc(1, 0))).toBe(basePfn);
    const pfn = unwrap(cma.alloc(4, 3));
    expect(pfn % 8).toBe(0);
    expect(pfn).toBe(basePfn - 3 + 8);
  });

  it('cma_release refuses pages outside the region (mm/cma.c cma_pages_valid)', () => {
    const { cma, basePfn } = region(DRAM.base, 16);
    unwrap(cma.alloc(16, 0));
    expect(errorOf(cma.release(basePfn - 1, 2))?.code).toBe('EINVAL');
    expect(errorOf(cma.release(basePfn + 15, 2))?.code).toBe('EINVAL');
    expect(errorOf(cma.release(basePfn, 0))?.code).toBe('EINVAL');
    expect(cma.usedPages).toBe(16);
  });

  it('any allocated part may be released on its own; releasing free pages is refused (mm/cma.c cma_clear_bitmap; the refusal is our model rule)', () => {
    const { cma, basePfn } = region(DRAM.base, 16);
    unwrap(cma.alloc(8, 0));
    unwrap(cma.release(basePfn + 2, 3));
    expect(cma.usedPages).toBe(5);
    const err = errorOf(cma.release(basePfn, 4));
    expect(err?.code).toBe('EINVAL');
    expect(err?.detail).toMatchObject({ freePfn: basePfn + 2 });
    expect(cma.usedPages).toBe(5);
  });

  it('ENOMEM names the longest free run; maxAddress keeps the run below a limit (model extension)', () => {
    const { cma, basePfn } = region(DRAM.base, 32);
    const maxAddress = DRAM.base + 16 * PAGE - 1;
    unwrap(cma.alloc(10, 0, { maxAddress }));
    expect(cma.largestFreeRun(maxAddress)).toBe(6);
    const err = errorOf(cma.alloc(8, 0, { maxAddress }));
    expect(err?.code).toBe('ENOMEM');
    expect(err?.detail).toEqual({
      region: 'reserved',
      count: 8,
      alignOrder: 0,
      maxAddress,
      largestFreeRun: 6,
    });
    expect(unwrap(cma.alloc(8, 0))).toBe(basePfn + 10);
    expect(errorOf(cma.alloc(0, 0))?.code).toBe('EINVAL');
    expect(errorOf(cma.alloc(1, -1))?.code).toBe('EINVAL');
  });

  it('with page counters, each page has one reference; pinned pages cannot be released (include/linux/mm.h, model rule)', () => {
    const memory = new PhysicalMemory([DRAM]);
    const bus = new EventBus<MemoryEvents>('memory');
    const pages = new PageMetadata(memory, bus);
    const cmaRegion = { name: 'cma0', base: DRAM.base + 2 ** 22, size: 2 ** 22 };
    const pa = new PageAllocator(memory, bus, { exclude: [cmaRegion], pages });
    const cma = new ContiguousAllocator(cmaRegion, bus, { pages });
    const pfn = unwrap(cma.alloc(4, 2));
    expect(pages.refcount(pfn + 3)).toBe(1);
    expect(pages.compoundOrder(pfn + 3)).toBe(0);
    unwrap(pages.pin(pfn + 1));
    expect(errorOf(cma.release(pfn, 4))?.code).toBe('EBUSY');
    expect(errorOf(pa.freePages(pfn, 0))?.code).toBe('EINVAL');
    unwrap(pages.unpin(pfn + 1));
    unwrap(cma.release(pfn, 4));
    expect(pages.allocatedPages).toBe(0);
    expect(pa.managedPages).toBe(3 * 1024);
  });

  it('a CMA page whose last reference is dropped returns to its region', () => {
    const memory = new PhysicalMemory([DRAM]);
    const bus = new EventBus<MemoryEvents>('memory');
    const pages = new PageMetadata(memory, bus);
    const cma = new ContiguousAllocator({ name: 'cma0', base: DRAM.base, size: 16 * PAGE }, bus, { pages });
    const released: number[] = [];
    bus.on('cma-release', (e) => released.push(e.count));
    const pfn = unwrap(cma.alloc(2, 0));
    unwrap(pages.putPage(pfn + 1));
    expect(cma.usedPages).toBe(1);
    expect(errorOf(cma.release(pfn, 2))?.code).toBe('EINVAL');
    unwrap(cma.release(pfn, 1));
    expect(released).toEqual([1, 1]);
  });

  it('emits cma-alloc and cma-release with region, pfn and count', () => {
    const { bus, cma, basePfn } = region(DRAM.base, 16);
    const seen: unknown[] = [];
    bus.on('cma-alloc', (e) => seen.push(e));
    bus.on('cma-release', (e) => seen.push(e));
    unwrap(cma.alloc(3, 0));
    unwrap(cma.release(basePfn, 3));
    expect(seen).toEqual([
      { region: 'reserved', pfn: basePfn, count: 3 },
      { region: 'reserved', pfn: basePfn, count: 3 },
    ]);
  });
});
