import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, unwrap } from '../src/index.js';
import type { Mm, MmuNotifier } from '../src/mm/index.js';
import { machine, pattern } from './mm-fixture.js';

const RW = { read: true, write: true };
const RO = { read: true, write: false };
const FIXED = 0x4000_0000;

const setup = () => {
  const m = machine();
  const proc = m.table.spawn('svm');
  return { ...m, proc, mm: proc.mm };
};

/** A secondary MMU that records what it is told. */
const recorder = () => {
  const calls: string[] = [];
  const notifier: MmuNotifier = {
    invalidateRange: (_mm: Mm, start: number, end: number, event) => {
      calls.push(`${event} ${(start - FIXED) / PAGE_SIZE}-${(end - FIXED) / PAGE_SIZE}`);
    },
    release: () => {
      calls.push('release');
    },
  };
  return { calls, notifier };
};

describe('MMU notifiers (mm/mmu_notifier.c)', () => {
  it('munmap invalidates the range before its pages are released (mm/mmu_notifier.c __mmu_notifier_invalidate_range_start)', () => {
    const { mm, pages } = setup();
    unwrap(mm.mmap({ length: 2 * PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    unwrap(mm.write(FIXED, pattern(2 * PAGE_SIZE), 0, 2 * PAGE_SIZE));
    const seen: number[] = [];
    mm.registerNotifier({
      invalidateRange: (m, start) => {
        seen.push(m.lookup(start), pages.allocated);
      },
    });
    const pfn = mm.lookup(FIXED);
    unwrap(mm.munmap(FIXED, 2 * PAGE_SIZE));
    expect(seen).toEqual([pfn, 2]);
    expect(pages.allocated).toBe(0);
  });

  it('unmapping a hole tells nobody (mm/vma.c do_vmi_munmap)', () => {
    const { mm } = setup();
    const { calls, notifier } = recorder();
    mm.registerNotifier(notifier);
    unwrap(mm.munmap(FIXED, PAGE_SIZE));
    expect(calls).toEqual([]);
  });

  it('MAP_FIXED over a mapping invalidates the replaced range (mm/vma.c vms_clear_ptes)', () => {
    const { mm } = setup();
    const { calls, notifier } = recorder();
    unwrap(mm.mmap({ length: 4 * PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    mm.registerNotifier(notifier);
    unwrap(mm.mmap({ length: 2 * PAGE_SIZE, addr: FIXED + PAGE_SIZE, fixed: true, prot: RW }));
    expect(calls).toEqual(['unmap 1-3']);
  });

  it('mprotect invalidates when it takes a permission away, not when it adds one (mm/mprotect.c change_pmd_range)', () => {
    const { mm } = setup();
    const { calls, notifier } = recorder();
    unwrap(mm.mmap({ length: 4 * PAGE_SIZE, addr: FIXED, fixed: true, prot: RO }));
    mm.registerNotifier(notifier);
    unwrap(mm.mprotect(FIXED, PAGE_SIZE, RW));
    unwrap(mm.mprotect(FIXED, 2 * PAGE_SIZE, RO));
    expect(calls).toEqual(['protection-vma 0-2']);
  });

  it('exit calls release once, before the pages are freed, then unhooks (mm/mmu_notifier.c __mmu_notifier_release)', () => {
    const { mm, proc, pages } = setup();
    const { calls, notifier } = recorder();
    unwrap(mm.mmap({ length: PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    unwrap(mm.write(FIXED, pattern(1), 0, 1));
    let allocatedAtRelease = -1;
    mm.registerNotifier(notifier);
    mm.registerNotifier({ invalidateRange: () => {}, release: () => (allocatedAtRelease = pages.allocated) });
    proc.exit();
    proc.exit();
    expect(calls).toEqual(['release']);
    expect(allocatedAtRelease).toBe(1);
    expect(pages.allocated).toBe(0);
    expect(() => mm.registerNotifier(notifier)).toThrow(/exited/);
  });

  it('an unregistered notifier hears nothing more, even when it unregisters itself in a callback (mm/mmu_notifier.c mmu_notifier_unregister)', () => {
    const { mm } = setup();
    unwrap(mm.mmap({ length: 4 * PAGE_SIZE, addr: FIXED, fixed: true, prot: RW }));
    const { calls, notifier } = recorder();
    const unregister = mm.registerNotifier(notifier);
    let selfCalls = 0;
    const stop = mm.registerNotifier({
      invalidateRange: () => {
        selfCalls += 1;
        stop();
      },
    });
    unwrap(mm.munmap(FIXED, PAGE_SIZE));
    unregister();
    unwrap(mm.munmap(FIXED + PAGE_SIZE, PAGE_SIZE));
    expect(calls).toEqual(['unmap 0-1']);
    expect(selfCalls).toBe(1);
  });
});
