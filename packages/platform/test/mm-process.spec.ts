import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, SimClock, TraceRecorder, unwrap } from '../src/index.js';
import { machine, pattern } from './mm-fixture.js';

const RW = { read: true, write: true };

describe('processes (kernel/pid.c, kernel/exit.c)', () => {
  it('pids are handed out from 1 in spawn order; exited processes leave the table (kernel/pid.c alloc_pid)', () => {
    const { table } = machine();
    const a = table.spawn('a');
    const b = table.spawn('b');
    expect([a.pid, b.pid]).toEqual([1, 2]);
    expect(table.get(2)).toBe(b);
    a.exit();
    expect(table.get(1)).toBeUndefined();
    expect(table.list().map((p) => p.name)).toEqual(['b']);
    expect(table.spawn('c').pid).toBe(3);
  });

  it('each process has its own address space (kernel/fork.c mm_alloc)', () => {
    const { table } = machine();
    const a = table.spawn('a');
    const b = table.spawn('b');
    const va = unwrap(a.mm.mmap({ length: PAGE_SIZE, prot: RW }));
    expect(unwrap(b.mm.mmap({ length: PAGE_SIZE, prot: RW }))).toBe(va);
    unwrap(a.mm.write(va, pattern(4), 0, 4));
    const buf = new Uint8Array(4);
    unwrap(b.mm.read(va, buf, 0, 4));
    expect([...buf]).toEqual([0, 0, 0, 0]);
  });

  it('exit frees every anonymous page except pinned ones, which stay until unpinned (mm/mmap.c exit_mmap)', () => {
    const { table, pages } = machine();
    const p = table.spawn('p');
    const va = unwrap(p.mm.mmap({ length: 4 * PAGE_SIZE, prot: RW, populate: true }));
    const pinned = unwrap(p.mm.pinUserPages(va + PAGE_SIZE, 1, true));
    p.exit();
    expect(p.exited).toBe(true);
    expect(pages.allocated).toBe(1);
    expect(p.mm.vmas()).toEqual([]);
    expect(() => p.mm.mmap({ length: PAGE_SIZE, prot: RW })).toThrow(/exited/);
    unwrap(p.mm.unpinUserPages(pinned));
    expect(pages.allocated).toBe(0);
  });

  it('every state change is an event on the mm bus, in order', () => {
    const { table, bus } = machine();
    const rec = new TraceRecorder(new SimClock()).record(bus);
    const p = table.spawn('gpu-app');
    const va = unwrap(p.mm.mmap({ length: 2 * PAGE_SIZE, prot: RW, name: 'heap' }));
    const stop = p.mm.registerNotifier({ invalidateRange: () => {} });
    unwrap(p.mm.write(va, pattern(1), 0, 1));
    const pfns = unwrap(p.mm.pinUserPages(va, 1, true));
    unwrap(p.mm.unpinUserPages(pfns));
    unwrap(p.mm.mprotect(va, PAGE_SIZE, { read: true, write: false }));
    unwrap(p.mm.munmap(va + PAGE_SIZE, PAGE_SIZE));
    stop();
    p.exit();
    expect(rec.trace.map((e) => e.type)).toEqual([
      'spawn',
      'mmap',
      'fault',
      'pin',
      'unpin',
      'notifier-invalidate',
      'mprotect',
      'notifier-invalidate',
      'munmap',
      'exit',
    ]);
    expect(rec.filter('mm', 'fault')[0]?.payload).toEqual({ pid: 1, va, write: true, pfn: pfns[0] });
    expect(rec.filter('mm', 'mmap')[0]?.payload).toMatchObject({
      prot: 'rw-',
      backing: 'anonymous',
      name: 'heap',
    });
    expect(rec.filter('mm', 'exit')[0]?.payload).toEqual({ pid: 1, pagesReleased: 1 });
  });
});
