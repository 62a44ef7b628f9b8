import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, pow2, unwrap } from '../src/index.js';
import { DEFAULT_TASK_SIZE, VM_PFNMAP, VM_READ, VM_WRITE } from '../src/mm/index.js';
import { BASE_PFN, codeOf, machine, pattern } from './mm-fixture.js';

const RW = { read: true, write: true };
const RO = { read: true, write: false };
const FIXED = 0x4000_0000;

const setup = (opts: Parameters<typeof machine>[0] = {}) => {
  const m = machine(opts);
  const proc = m.table.spawn('test');
  return { ...m, proc, mm: proc.mm };
};

describe('mmap (mm/mmap.c)', () => {
  it('a zero length is EINVAL (mm/mmap.c do_mmap)', () => {
    const { mm } = setup();
    expect(codeOf(mm.mmap({ length: 0, prot: RW }))).toBe('EINVAL');
    expect(mm.vmas()).toHaveLength(0);
  });

  it('the length is rounded up to whole pages (mm/mmap.c do_mmap PAGE_ALIGN)', () => {
    const { mm } = setup();
    const va = unwrap(mm.mmap({ length: 5000, prot: RW }));
    expect(mm.vmas()[0]).toMatchObject({ start: va, end: va + 2 * PAGE_SIZE });
  });

  it('a length larger than the user space is ENOMEM (mm/mmap.c generic_get_unmapped_area_topdown)', () => {
    const { mm } = setup();
    expect(codeOf(mm.mmap({ length: DEFAULT_TASK_SIZE, prot: RW }))).toBe('ENOMEM');
  });

  it('the default user space is 47 bits, TASK_SIZE = 2^47 - 4 KiB (arch/x86/include/asm/page_64_types.h)', () => {
    const { mm } = setup();
    expect(mm.layout.taskSize).toBe(pow2(47) - PAGE_SIZE);
    expect(codeOf(mm.mmap({ length: PAGE_SIZE, addr: pow2(47) - PAGE_SIZE, fixed: true, prot: RW }))).toBe(
      'ENOMEM',
    );
    expect(
      codeOf(mm.mmap({ length: PAGE_SIZE, addr: pow2(47) - 2 * PAGE_SIZE, fixed: true, prot: RW })),
    ).toBe('ok');
  });

  it('a MAP_FIXED address must be page aligned, else EINVAL (mm/mmap.c __get_unmapped_area)', () => {
    const { mm } = setup();
    expect(codeOf(mm.mmap({ length: PAGE_SIZE, addr: FIXED + 1, fixed: true, prot: RW }))).toBe('EINVAL');
  });

  it('a MAP_FIXED address below vm.mmap_min_addr is EPERM (mm/mmap.c __get_unmapped_area → security_mmap_addr)', () => {
    const { mm } = setup();
    expect(codeOf(mm.mmap({ length: PAGE_SIZE, addr: 0x1000, fixed: true, prot: RW }))).toBe('EPERM');
    expect(codeOf(mm.mmap({ length: PAGE_SIZE, addr: 0x10000, fixed: true, prot: RW }))).toBe('ok');
  });

  it('MAP_FIXED replaces whatever was mapped in the range (mm/mmap.c mmap_region)', () => {
    const { mm, pages } = setup();
    unwrap(mm.mmap({ length: 4 * PAGE_SIZE, addr: FIXED, fixed: true, prot: RW, name: 'old' }));
    unwrap(mm.write(FIXED, pattern(4 * PAGE_SIZE), 0, 4 * PAGE_SIZE));
    expect(pages.allocated).toBe(4);
    unwrap(mm.mmap({ length: 2 * PAGE_SIZE, addr: FIXED + PAGE_SIZE, fixed: true, prot: RO, name: 'new' }));
    expect(mm.vmas().map((v) => [v.start - FIXED, v.end - FIXED, v.name])).toEqual([
      [0, PAGE_SIZE, 'old'],
      [PAGE_SIZE, 3 * PAGE_SIZE, 'new'],
      [3 * PAGE_SIZE, 4 * PAGE_SIZE, 'old'],
    ]);
    expect(pages.allocated).toBe(2);
    const buf = new Uint8Array(2 * PAGE_SIZE);
    unwrap(mm.read(FIXED + PAGE_SIZE, buf, 0, buf.length));
    expect(buf.every((b) => b === 0)).toBe(true);
  });

  it('MAP_FIXED_NOREPLACE over a mapping is EEXIST and changes nothing (mm/mmap.c do_mmap)', () => {
    const { mm } = setup();
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    const before = mm.vmas();
    expect(
      codeOf(mm.mmap({ length: 2 * PAGE_SIZE, addr: FIXED - PAGE_SIZE, noReplace: true, prot: RO })),
    ).toBe('EEXIST');
    expect(mm.vmas()).toBe(before);
    expect(codeOf(mm.mmap({ length: PAGE_SIZE, addr: FIXED + PAGE_SIZE, noReplace: true, prot: RO }))).toBe(
      'ok',
    );
  });

  it('without MAP_FIXED a free hint is used, rounded down to a page (mm/mmap.c round_hint_to_min)', () => {
    const { mm } = setup();
    expect(unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED + 123, prot: RW }))).toBe(FIXED);
    expect(unwrap(mm.mmap({ length: PAGE_SIZE, addr: 0x2000, prot: RW }))).toBe(0x10000);
  });

  it('an occupied hint is ignored: the area goes top-down below mmap_base (mm/mmap.c generic_get_unmapped_area_topdown)', () => {
    const { mm } = setup();
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    const a = unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED, prot: RW, name: 'a' }));
    const b = unwrap(mm.mmap({ length: 3 * PAGE_SIZE, prot: RW, name: 'b' }));
    expect(a).toBe(mm.layout.mmapBase - PAGE_SIZE);
    expect(mm.layout.mmapBase).toBe(DEFAULT_TASK_SIZE - 128 * 1024 * 1024);
    expect(b).toBe(a - 3 * PAGE_SIZE);
    unwrap(mm.munmap(a, PAGE_SIZE));
    expect(unwrap(mm.mmap({ length: PAGE_SIZE, prot: RW }))).toBe(a);
  });

  it('top-down placement falls back to a bottom-up search from TASK_UNMAPPED_BASE (mm/mmap.c generic_get_unmapped_area_topdown)', () => {
    const layout = { taskSize: 0x1000_0000, mmapBase: 0x0800_0000, mmapMinAddr: 0x1_0000 };
    const { mm } = setup({ layout });
    unwrap(mm.mmap({ length: 0x0800_0000 - 0x1_0000, addr: 0x1_0000, fixed: true, prot: RW }));
    const va = unwrap(mm.mmap({ length: PAGE_SIZE, prot: RW }));
    expect(va).toBe(0x0800_0000);
    expect(mm.layout.unmappedBase).toBe(0x0555_6000);
  });

  it('ENOMEM when no gap is large enough (mm/vma.c vm_unmapped_area)', () => {
    const layout = { taskSize: 0x100_0000, mmapBase: 0x80_0000, mmapMinAddr: 0x1_0000 };
    const { mm } = setup({ layout });
    unwrap(mm.mmap({ length: 0x40_0000, addr: 0x40_0000, fixed: true, prot: RW }));
    unwrap(mm.mmap({ length: 0x40_0000, addr: 0xc0_0000, fixed: true, prot: RW }));
    expect(codeOf(mm.mmap({ length: 0x50_0000, prot: RW }))).toBe('ENOMEM');
    expect(mm.vmas()).toHaveLength(2);
  });

  it('adjacent anonymous mappings with equal flags and name merge; pfn mappings never do (mm/vma.c vma_merge, VM_SPECIAL)', () => {
    const { mm } = setup();
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED + 2 * PAGE_SIZE, fixed: true, prot: RW }));
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED + PAGE_SIZE, fixed: true, prot: RW }));
    expect(mm.vmas().map((v) => [v.start, v.end])).toEqual([[FIXED, FIXED + 3 * PAGE_SIZE]]);
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED + 3 * PAGE_SIZE, fixed: true, prot: RO }));
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED + 4 * PAGE_SIZE, fixed: true, prot: RO, name: 'x' }));
    const pfnmap = { kind: 'pfns', pfns: [BASE_PFN + 100] } as const;
    unwrap(
      mm.mmap({ length: PAGE_SIZE, addr: FIXED + 5 * PAGE_SIZE, fixed: true, prot: RW, backing: pfnmap }),
    );
    unwrap(
      mm.mmap({ length: PAGE_SIZE, addr: FIXED + 6 * PAGE_SIZE, fixed: true, prot: RW, backing: pfnmap }),
    );
    expect(mm.vmas()).toHaveLength(5);
  });

  it('more VMAs than vm.max_map_count is ENOMEM (mm/mmap.c do_mmap, mm/vma.c split)', () => {
    const { mm } = setup({ layout: { maxMapCount: 2 } });
    unwrap(mm.mmap({ length: 4 * PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED + 8 * PAGE_SIZE, fixed: true, prot: RW }));
    expect(codeOf(mm.mmap({ length: PAGE_SIZE, addr: FIXED + 16 * PAGE_SIZE, fixed: true, prot: RW }))).toBe(
      'ENOMEM',
    );
    expect(codeOf(mm.munmap(FIXED + PAGE_SIZE, PAGE_SIZE))).toBe('ENOMEM');
    expect(mm.vmas()).toHaveLength(2);
    // A merge keeps the count: allowed.
    expect(codeOf(mm.mmap({ length: PAGE_SIZE, addr: FIXED + 4 * PAGE_SIZE, fixed: true, prot: RW }))).toBe(
      'ok',
    );
  });

  it('a pfns backing must cover the mapping, else EINVAL (drivers/dma-buf/dma-buf.c dma_buf_mmap_internal)', () => {
    const { mm } = setup();
    const backing = { kind: 'pfns', pfns: [BASE_PFN] } as const;
    expect(codeOf(mm.mmap({ length: 2 * PAGE_SIZE, prot: RW, backing }))).toBe('EINVAL');
    expect(codeOf(mm.mmap({ length: PAGE_SIZE, prot: RW, backing: { kind: 'pfns', pfns: [-1] } }))).toBe(
      'EINVAL',
    );
    const va = unwrap(mm.mmap({ length: PAGE_SIZE, prot: RW, backing }));
    expect((mm.findVma(va)?.flags ?? 0) & VM_PFNMAP).toBe(VM_PFNMAP);
  });

  it('MAP_POPULATE faults every page in at mmap time (mm/gup.c __mm_populate)', () => {
    const { mm } = setup();
    const va = unwrap(mm.mmap({ length: 3 * PAGE_SIZE, prot: RW, populate: true }));
    expect(mm.stats.faults).toBe(3);
    expect(mm.lookup(va + 2 * PAGE_SIZE)).toBeGreaterThanOrEqual(BASE_PFN);
  });
});

describe('munmap (mm/vma.c do_vmi_munmap)', () => {
  it('an unaligned address, a zero length or a range past TASK_SIZE is EINVAL (mm/vma.c do_vmi_munmap)', () => {
    const { mm } = setup();
    expect(codeOf(mm.munmap(FIXED + 1, PAGE_SIZE))).toBe('EINVAL');
    expect(codeOf(mm.munmap(FIXED, 0))).toBe('EINVAL');
    expect(codeOf(mm.munmap(DEFAULT_TASK_SIZE - PAGE_SIZE, 2 * PAGE_SIZE))).toBe('EINVAL');
  });

  it('unmapping a hole succeeds and changes nothing (mm/vma.c do_vmi_munmap)', () => {
    const { mm } = setup();
    expect(codeOf(mm.munmap(FIXED, 16 * PAGE_SIZE))).toBe('ok');
  });

  it('unmapping the middle of a VMA splits it and keeps the outer pages (mm/vma.c split_vma)', () => {
    const { mm, pages } = setup();
    unwrap(mm.mmap({ length: 4 * PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    unwrap(mm.write(FIXED, pattern(4 * PAGE_SIZE, 7), 0, 4 * PAGE_SIZE));
    unwrap(mm.munmap(FIXED + PAGE_SIZE, 2 * PAGE_SIZE - 100));
    expect(mm.vmas().map((v) => [v.start - FIXED, v.end - FIXED])).toEqual([
      [0, PAGE_SIZE],
      [3 * PAGE_SIZE, 4 * PAGE_SIZE],
    ]);
    expect(pages.allocated).toBe(2);
    expect(mm.stats.rss).toBe(2);
    const buf = new Uint8Array(PAGE_SIZE);
    unwrap(mm.read(FIXED + 3 * PAGE_SIZE, buf, 0, PAGE_SIZE));
    expect(buf).toEqual(pattern(4 * PAGE_SIZE, 7).subarray(3 * PAGE_SIZE));
    expect(codeOf(mm.read(FIXED + PAGE_SIZE, buf, 0, 1))).toBe('EFAULT');
  });

  it('munmap drops the anonymous pages but never frees the frames of a pfn mapping (mm/memory.c zap_pte_range, vm_normal_page)', () => {
    const { mm, pages } = setup();
    const frame = unwrap(pages.allocPage());
    const va = unwrap(mm.mmap({ length: PAGE_SIZE, prot: RW, backing: { kind: 'pfns', pfns: [frame] } }));
    unwrap(mm.write(va, pattern(10), 0, 10));
    unwrap(mm.munmap(va, PAGE_SIZE));
    expect(pages.refcount(frame)).toBe(1);
    expect(pages.freed).toEqual([]);
  });
});

describe('mprotect (mm/mprotect.c)', () => {
  it('a write to a read-only mapping is EFAULT; mprotect makes it writable (mm/mprotect.c do_mprotect_pkey)', () => {
    const { mm } = setup();
    unwrap(mm.mmap({ length: 2 * PAGE_SIZE, addr: FIXED, fixed: true, prot: RO }));
    expect(codeOf(mm.write(FIXED, pattern(4), 0, 4))).toBe('EFAULT');
    unwrap(mm.mprotect(FIXED + PAGE_SIZE, PAGE_SIZE, RW));
    expect(mm.vmas().map((v) => v.prot.write)).toEqual([false, true]);
    expect(codeOf(mm.write(FIXED + PAGE_SIZE, pattern(4), 0, 4))).toBe('ok');
    unwrap(mm.mprotect(FIXED, PAGE_SIZE, RW));
    expect(mm.vmas()).toHaveLength(1);
    expect((mm.vmas()[0]?.flags ?? 0) & (VM_READ | VM_WRITE)).toBe(VM_READ | VM_WRITE);
  });

  it('mprotect over a hole is ENOMEM and changes nothing (mm/mprotect.c do_mprotect_pkey)', () => {
    const { mm } = setup();
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED + 2 * PAGE_SIZE, fixed: true, prot: RW }));
    const before = mm.vmas();
    expect(codeOf(mm.mprotect(FIXED, 3 * PAGE_SIZE, RO))).toBe('ENOMEM');
    expect(mm.vmas()).toBe(before);
  });

  it('mprotect needs a page-aligned address (EINVAL); a zero length does nothing (mm/mprotect.c)', () => {
    const { mm } = setup();
    expect(codeOf(mm.mprotect(FIXED + 8, PAGE_SIZE, RO))).toBe('EINVAL');
    expect(codeOf(mm.mprotect(FIXED, 0, RO))).toBe('ok');
  });
});

describe('faults and user accesses (mm/memory.c)', () => {
  it('first touch of anonymous memory faults in a zeroed page; the second touch does not fault (mm/memory.c do_anonymous_page)', () => {
    const { mm, pages, memory } = setup();
    const dirty = unwrap(pages.allocPage());
    unwrap(memory.fill(dirty * PAGE_SIZE, 0xee, PAGE_SIZE));
    unwrap(pages.putPage(dirty));
    const va = unwrap(mm.mmap({ length: 2 * PAGE_SIZE, prot: RW }));
    expect(mm.stats).toEqual({ faults: 0, rss: 0, pinnedPages: 0 });
    const buf = new Uint8Array(8);
    unwrap(mm.read(va + 100, buf, 0, 8));
    expect([...buf]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(mm.lookup(va)).toBe(dirty);
    unwrap(mm.write(va + 100, pattern(8), 0, 8));
    expect(mm.stats).toEqual({ faults: 1, rss: 1, pinnedPages: 0 });
  });

  it('an access where nothing is mapped is EFAULT and moves no byte (mm/memory.c, arch/x86/mm/fault.c bad_area)', () => {
    const { mm, pages } = setup();
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    const r = mm.write(FIXED + PAGE_SIZE - 2, pattern(4), 0, 4);
    expect(E.isLeft(r) && r.left.detail).toMatchObject({ va: FIXED + PAGE_SIZE });
    expect(pages.allocated).toBe(0);
    expect(codeOf(mm.read(-1, new Uint8Array(1), 0, 1))).toBe('EFAULT');
    expect(codeOf(mm.read(DEFAULT_TASK_SIZE, new Uint8Array(1), 0, 1))).toBe('EFAULT');
  });

  it('PROT_WRITE alone is readable by the CPU; PROT_NONE is not (arch/x86/mm/fault.c access_error)', () => {
    const { mm } = setup();
    const wo = unwrap(mm.mmap({ length: PAGE_SIZE, prot: { read: false, write: true } }));
    const none = unwrap(mm.mmap({ length: PAGE_SIZE, prot: { read: false, write: false } }));
    unwrap(mm.write(wo, pattern(3), 0, 3));
    const buf = new Uint8Array(3);
    unwrap(mm.read(wo, buf, 0, 3));
    expect(buf).toEqual(pattern(3));
    expect(codeOf(mm.read(none, buf, 0, 1))).toBe('EFAULT');
    expect(codeOf(mm.handleFault(none, false))).toBe('EFAULT');
  });

  it('running out of pages is ENOMEM; pages faulted before stay, no byte moves (mm/memory.c VM_FAULT_OOM)', () => {
    const { mm, pages } = setup({ pages: 2 });
    const va = unwrap(mm.mmap({ length: 3 * PAGE_SIZE, prot: RW }));
    expect(codeOf(mm.write(va, pattern(3 * PAGE_SIZE), 0, 3 * PAGE_SIZE))).toBe('ENOMEM');
    expect(pages.allocated).toBe(2);
    expect(mm.stats.rss).toBe(2);
    const buf = new Uint8Array(2 * PAGE_SIZE);
    unwrap(mm.read(va, buf, 0, buf.length));
    expect(buf.every((b) => b === 0)).toBe(true);
  });

  it('a pfn mapping inserts its frames on fault with their memory type (mm/memory.c vmf_insert_pfn_prot)', () => {
    const { mm, cpu, memory } = setup();
    const pfns = [BASE_PFN + 500, BASE_PFN + 300];
    const va = unwrap(
      mm.mmap({ length: 2 * PAGE_SIZE, prot: RW, backing: { kind: 'pfns', pfns, attr: 'write-combine' } }),
    );
    expect(mm.lookup(va)).toBe(-1);
    cpu.logging = true;
    unwrap(mm.write(va + PAGE_SIZE - 2, pattern(4), 0, 4));
    expect(mm.lookup(va)).toBe(pfns[0]);
    expect(mm.lookup(va + PAGE_SIZE)).toBe(pfns[1]);
    expect(cpu.log.map((a) => [a.addr, a.len, a.attr])).toEqual([
      [(BASE_PFN + 500) * PAGE_SIZE + PAGE_SIZE - 2, 2, 'write-combine'],
      [(BASE_PFN + 300) * PAGE_SIZE, 2, 'write-combine'],
    ]);
    const phys = new Uint8Array(2);
    unwrap(memory.read((BASE_PFN + 300) * PAGE_SIZE, phys, 0, 2));
    expect([...phys]).toEqual([3, 4]);
    expect(mm.stats.faults).toBe(2);
  });

  it('after a split, a pfn mapping keeps each frame at its address (mm/vma.c __split_vma vm_pgoff)', () => {
    const { mm } = setup();
    const pfns = [BASE_PFN + 10, BASE_PFN + 11, BASE_PFN + 12, BASE_PFN + 13];
    unwrap(
      mm.mmap({ length: 4 * PAGE_SIZE, addr: FIXED, fixed: true, prot: RW, backing: { kind: 'pfns', pfns } }),
    );
    unwrap(mm.munmap(FIXED + PAGE_SIZE, PAGE_SIZE));
    expect(unwrap(mm.handleFault(FIXED + 3 * PAGE_SIZE, true))).toBe(BASE_PFN + 13);
    expect(mm.vmas()[1]?.pgoff).toBe(2);
  });

  it('anonymous memory is accessed cached (mm/mmap.c vm_get_page_prot)', () => {
    const { mm, cpu } = setup();
    const va = unwrap(mm.mmap({ length: PAGE_SIZE, prot: RW }));
    cpu.logging = true;
    unwrap(mm.write(va, pattern(1), 0, 1));
    expect(cpu.log[0]?.attr).toBe('cached');
  });

  it('lookup never faults (mm/gup.c follow_page)', () => {
    const { mm } = setup();
    const va = unwrap(mm.mmap({ length: PAGE_SIZE, prot: RW }));
    expect(mm.lookup(va)).toBe(-1);
    expect(mm.lookup(-5)).toBe(-1);
    expect(mm.stats.faults).toBe(0);
  });

  it('handle_mm_fault populates once; a present page is returned without a new fault (mm/memory.c handle_mm_fault)', () => {
    const { mm } = setup();
    const va = unwrap(mm.mmap({ length: PAGE_SIZE, prot: RO }));
    const pfn = unwrap(mm.handleFault(va + 5, false));
    expect(unwrap(mm.handleFault(va, false))).toBe(pfn);
    expect(mm.stats.faults).toBe(1);
    expect(codeOf(mm.handleFault(va, true))).toBe('EFAULT');
    expect(codeOf(mm.handleFault(va + PAGE_SIZE, false))).toBe('EFAULT');
  });

  it('accesses cross page and VMA boundaries with each VMA’s memory type (include/linux/uaccess.h copy_to_user)', () => {
    const { mm, cpu } = setup();
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    const frame = BASE_PFN + 900;
    const backing = { kind: 'pfns', pfns: [frame], attr: 'uncached' } as const;
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED + PAGE_SIZE, fixed: true, prot: RW, backing }));
    const data = pattern(3000, 9);
    cpu.logging = true;
    unwrap(mm.write(FIXED + PAGE_SIZE - 1000, data, 0, 3000));
    expect(cpu.log.map((a) => a.attr)).toEqual(['cached', 'uncached']);
    const back = new Uint8Array(3000);
    unwrap(mm.read(FIXED + PAGE_SIZE - 1000, back, 0, 3000));
    expect(back).toEqual(data);
  });

  it('a buffer too small for the access is a caller bug and throws', () => {
    const { mm } = setup();
    expect(() => mm.read(FIXED, new Uint8Array(4), 2, 4)).toThrow(RangeError);
  });
});
