import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, unwrap } from '../src/index.js';
import { BASE_PFN, codeOf, machine, pattern } from './mm-fixture.js';

const RW = { read: true, write: true };
const FIXED = 0x4000_0000;

const setup = (pages?: number) => {
  const m = machine(pages === undefined ? {} : { pages });
  const proc = m.table.spawn('gup');
  return { ...m, proc, mm: proc.mm };
};

describe('pin_user_pages (mm/gup.c)', () => {
  it('pinning faults the pages in and pins each one with a reference (mm/gup.c pin_user_pages)', () => {
    const { mm, pages } = setup();
    const va = unwrap(mm.mmap({ length: 3 * PAGE_SIZE, prot: RW }));
    unwrap(mm.write(va, pattern(1), 0, 1));
    const pfns = unwrap(mm.pinUserPages(va, 3, true));
    expect(pfns).toHaveLength(3);
    expect(pfns[0]).toBe(mm.lookup(va));
    expect(mm.stats).toMatchObject({ faults: 3, pinnedPages: 3 });
    for (const pfn of pfns) {
      expect(pages.pincount(pfn)).toBe(1);
      expect(pages.refcount(pfn)).toBe(2);
    }
  });

  it('the start address is rounded down to its page; zero pages pin nothing (mm/gup.c gup_fast_fallback)', () => {
    const { mm } = setup();
    const va = unwrap(mm.mmap({ length: 2 * PAGE_SIZE, prot: RW }));
    expect(unwrap(mm.pinUserPages(va + PAGE_SIZE + 17, 1, false))).toEqual([mm.lookup(va + PAGE_SIZE)]);
    expect(unwrap(mm.pinUserPages(va, 0, false))).toEqual([]);
    expect(codeOf(mm.pinUserPages(va, -1, false))).toBe('EINVAL');
  });

  it('VM_IO/VM_PFNMAP mappings cannot be pinned: EFAULT (mm/gup.c check_vma_flags)', () => {
    const { mm } = setup();
    const va = unwrap(
      mm.mmap({ length: PAGE_SIZE, prot: RW, backing: { kind: 'pfns', pfns: [BASE_PFN + 7] } }),
    );
    expect(codeOf(mm.pinUserPages(va, 1, false))).toBe('EFAULT');
  });

  it('a write pin needs VM_WRITE and a read pin VM_READ: EFAULT otherwise (mm/gup.c check_vma_flags)', () => {
    const { mm } = setup();
    const ro = unwrap(mm.mmap({ length: PAGE_SIZE, prot: { read: true, write: false } }));
    const wo = unwrap(mm.mmap({ length: PAGE_SIZE, prot: { read: false, write: true } }));
    expect(codeOf(mm.pinUserPages(ro, 1, true))).toBe('EFAULT');
    expect(codeOf(mm.pinUserPages(ro, 1, false))).toBe('ok');
    expect(codeOf(mm.pinUserPages(wo, 1, false))).toBe('EFAULT');
    expect(codeOf(mm.pinUserPages(wo, 1, true))).toBe('ok');
  });

  it('a hole in the range is EFAULT and nothing is pinned or faulted (mm/gup.c __get_user_pages)', () => {
    const { mm, pages } = setup();
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED + 2 * PAGE_SIZE, fixed: true, prot: RW }));
    expect(codeOf(mm.pinUserPages(FIXED, 3, true))).toBe('EFAULT');
    expect(pages.allocated).toBe(0);
    expect(mm.stats.pinnedPages).toBe(0);
  });

  it('running out of pages is ENOMEM with nothing left pinned (mm/gup.c faultin_page)', () => {
    const { mm, pages } = setup(2);
    const va = unwrap(mm.mmap({ length: 3 * PAGE_SIZE, prot: RW }));
    expect(codeOf(mm.pinUserPages(va, 3, true))).toBe('ENOMEM');
    expect(pages.allocatedPfns().map((p) => pages.pincount(p))).toEqual([0, 0]);
    expect(mm.stats.pinnedPages).toBe(0);
  });

  it('a pinned page outlives munmap with its data, and is freed by the last unpin (mm/gup.c unpin_user_pages)', () => {
    const { mm, pages, memory } = setup();
    const va = unwrap(mm.mmap({ length: PAGE_SIZE, prot: RW }));
    unwrap(mm.write(va, pattern(16, 3), 0, 16));
    const [pfn] = unwrap(mm.pinUserPages(va, 1, true)) as [number];
    unwrap(mm.pinUserPages(va, 1, false));
    unwrap(mm.munmap(va, PAGE_SIZE));
    expect(pages.refcount(pfn)).toBe(2);
    const data = new Uint8Array(16);
    unwrap(memory.read(pfn * PAGE_SIZE, data, 0, 16));
    expect(data).toEqual(pattern(16, 3));
    unwrap(mm.unpinUserPages([pfn]));
    expect(pages.freed).toEqual([]);
    unwrap(mm.unpinUserPages([pfn]));
    expect(pages.freed).toEqual([pfn]);
    expect(mm.stats.pinnedPages).toBe(0);
  });

  it('unpinning a page not pinned through this mm is EINVAL and releases nothing (mm/gup.c gup_put_folio)', () => {
    const { mm, pages } = setup();
    const va = unwrap(mm.mmap({ length: PAGE_SIZE, prot: RW }));
    const [pfn] = unwrap(mm.pinUserPages(va, 1, true)) as [number];
    expect(codeOf(mm.unpinUserPages([pfn, pfn]))).toBe('EINVAL');
    expect(codeOf(mm.unpinUserPages([pfn + 1]))).toBe('EINVAL');
    expect(pages.pincount(pfn)).toBe(1);
    expect(mm.stats.pinnedPages).toBe(1);
  });
});
