import { SimClock, TraceRecorder } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { DmaFence, DmaFenceArray, DmaFenceChain, type DmaFenceOps, FenceDomain } from '../src/fence/index.js';
import { DMA_RESV_USAGES, DmaResv, DmaResvUsage, dmaResvUsageRw } from '../src/resv/index.js';

const fenceOps: DmaFenceOps = { getDriverName: () => 'selftest', getTimelineName: () => 'selftest' };

const setup = () => {
  const clock = new SimClock();
  const domain = new FenceDomain(clock);
  const alloc = (context = 0, seqno = 0) => new DmaFence(domain, fenceOps, context, seqno);
  const resv = new DmaResv(domain, 'bo');
  const locked = <T>(fn: () => T): T => {
    expect(E.isRight(resv.lock())).toBe(true);
    try {
      return fn();
    } finally {
      resv.unlock();
    }
  };
  return { clock, domain, alloc, resv, locked };
};

const usageNames = ['KERNEL', 'WRITE', 'READ', 'BOOKKEEP'] as const;

describe('dma_resv self-tests (drivers/dma-buf/st-dma-resv.c)', () => {
  it('sanitycheck: a reservation object can be locked and unlocked', () => {
    const { alloc, resv } = setup();
    const f = alloc();
    f.enableSwSignaling();
    f.signal();
    f.put();
    expect(E.isRight(resv.lock())).toBe(true);
    resv.unlock();
    resv.fini();
  });

  for (const usage of DMA_RESV_USAGES) {
    const name = usageNames[usage];

    it(`test_signaling (${name}): the object is busy until its fence signals`, () => {
      const { alloc, resv, locked } = setup();
      const f = alloc();
      f.enableSwSignaling();
      locked(() => {
        resv.reserveFences(1);
        resv.addFence(f, usage);
        expect(resv.testSignaled(usage)).toBe(false);
        f.signal();
        expect(resv.testSignaled(usage)).toBe(true);
      });
      resv.fini();
      f.put();
      expect(f.refcount).toBe(0);
    });

    it(`test_for_each (${name}): the locked iterator yields the one fence with its usage`, () => {
      const { alloc, resv, locked } = setup();
      const f = alloc();
      f.enableSwSignaling();
      locked(() => {
        resv.reserveFences(1);
        resv.addFence(f, usage);
        expect(resv.fences(usage)).toEqual([{ fence: f, usage }]);
        f.signal();
      });
      resv.fini();
      f.put();
    });

    it(`test_for_each_unlocked (${name}): the unlocked iterator yields the one unsignaled fence`, () => {
      const { alloc, resv, locked } = setup();
      const f = alloc();
      f.enableSwSignaling();
      locked(() => {
        resv.reserveFences(1);
        resv.addFence(f, usage);
      });
      const fences = resv.getFences(usage);
      expect(fences).toEqual([f]);
      for (const x of fences) x.put();
      f.signal();
      expect(resv.getFences(usage)).toEqual([]);
      resv.fini();
      f.put();
    });

    it(`test_get_fences (${name}): get_fences returns the fence with a reference of its own`, () => {
      const { alloc, resv, locked } = setup();
      const f = alloc();
      f.enableSwSignaling();
      locked(() => {
        resv.reserveFences(1);
        resv.addFence(f, usage);
      });
      const fences = resv.getFences(usage);
      expect(fences).toEqual([f]);
      expect(f.refcount).toBe(3);
      f.signal();
      for (const x of fences) x.put();
      resv.fini();
      f.put();
      expect(f.refcount).toBe(0);
    });
  }
});

describe('dma_resv rules (drivers/dma-buf/dma-resv.c, include/linux/dma-resv.h)', () => {
  it('a query for usage U returns the fences of every usage up to U (enum dma_resv_usage)', () => {
    const { alloc, resv, locked } = setup();
    const fences = DMA_RESV_USAGES.map((u) => alloc(u + 1, 1));
    locked(() => {
      resv.reserveFences(4);
      fences.forEach((f, u) => {
        resv.addFence(f, u as DmaResvUsage);
      });
      for (const u of DMA_RESV_USAGES) {
        expect(resv.fences(u).map((e) => e.fence)).toEqual(fences.slice(0, u + 1));
      }
    });
    expect(resv.getFences(DmaResvUsage.WRITE)).toEqual(fences.slice(0, 2));
  });

  it('a new write waits for reads and writes, a new read only for writes (dma_resv_usage_rw)', () => {
    expect(dmaResvUsageRw(true)).toBe(DmaResvUsage.READ);
    expect(dmaResvUsageRw(false)).toBe(DmaResvUsage.WRITE);
  });

  it('adding without a reserved slot is the kernel BUG_ON and throws', () => {
    const { alloc, resv, locked } = setup();
    locked(() => {
      expect(() => resv.addFence(alloc(1, 1), DmaResvUsage.WRITE)).toThrow(/no fence slot reserved/);
      resv.reserveFences(1);
      resv.addFence(alloc(1, 1), DmaResvUsage.WRITE);
      expect(() => resv.addFence(alloc(2, 1), DmaResvUsage.WRITE)).toThrow(/no fence slot reserved/);
    });
  });

  it('reserved slots are forgotten on unlock (dma_resv_reset_max_fences)', () => {
    const { alloc, resv, locked } = setup();
    locked(() => resv.reserveFences(2));
    locked(() => {
      expect(() => resv.addFence(alloc(1, 1), DmaResvUsage.WRITE)).toThrow(/no fence slot reserved/);
    });
  });

  it('updates without the lock are a bug and throw (dma_resv_assert_held)', () => {
    const { alloc, resv } = setup();
    const other = new DmaResv(resv.domain);
    expect(() => resv.reserveFences(1)).toThrow(/not locked/);
    expect(() => resv.addFence(alloc(), DmaResvUsage.READ)).toThrow(/not locked/);
    expect(() => resv.replaceFences(0, alloc(), DmaResvUsage.READ)).toThrow(/not locked/);
    expect(() => resv.fences(DmaResvUsage.READ)).toThrow(/not locked/);
    expect(() => resv.copyFences(other)).toThrow(/not locked/);
    expect(() => resv.unlock()).toThrow(/not locked/);
  });

  it('a later fence of the same context replaces one of equal or higher usage in place (dma_resv_add_fence)', () => {
    const { alloc, resv, locked } = setup();
    const read1 = alloc(7, 1);
    const write2 = alloc(7, 2);
    locked(() => {
      resv.reserveFences(1);
      resv.addFence(read1, DmaResvUsage.READ);
      resv.addFence(write2, DmaResvUsage.WRITE);
      expect(resv.fences(DmaResvUsage.BOOKKEEP)).toEqual([{ fence: write2, usage: DmaResvUsage.WRITE }]);
    });
    expect(read1.refcount).toBe(1);
  });

  it('a same-context fence of higher usage, or an earlier seqno, is added beside the old one', () => {
    const { alloc, resv, locked } = setup();
    const write1 = alloc(7, 1);
    const read2 = alloc(7, 2);
    const write0 = alloc(7, 0);
    locked(() => {
      resv.reserveFences(3);
      resv.addFence(write1, DmaResvUsage.WRITE);
      resv.addFence(read2, DmaResvUsage.READ);
      resv.addFence(write0, DmaResvUsage.WRITE);
      expect(resv.fences(DmaResvUsage.BOOKKEEP).map((e) => e.fence)).toEqual([write1, read2, write0]);
    });
  });

  it('a signaled entry is reused by any new fence', () => {
    const { alloc, resv, locked } = setup();
    const old = alloc(1, 1);
    const fresh = alloc(2, 1);
    locked(() => {
      resv.reserveFences(1);
      resv.addFence(old, DmaResvUsage.KERNEL);
    });
    old.signal();
    locked(() => {
      resv.addFence(fresh, DmaResvUsage.BOOKKEEP);
      expect(resv.fences(DmaResvUsage.BOOKKEEP)).toEqual([{ fence: fresh, usage: DmaResvUsage.BOOKKEEP }]);
    });
  });

  it('growing the list leaves signaled fences behind (dma_resv_reserve_fences)', () => {
    const { alloc, resv, locked } = setup();
    const done = alloc(1, 1);
    const busy = alloc(2, 1);
    locked(() => {
      resv.reserveFences(2);
      resv.addFence(done, DmaResvUsage.WRITE);
      resv.addFence(busy, DmaResvUsage.WRITE);
    });
    done.signal();
    locked(() => {
      resv.reserveFences(1);
      expect(resv.fences(DmaResvUsage.BOOKKEEP).map((e) => e.fence)).toEqual([busy]);
    });
    expect(done.refcount).toBe(1);
  });

  it('containers cannot be added: their fences are added one by one (dma_resv_add_fence WARN_ON)', () => {
    const { domain, alloc, resv, locked } = setup();
    const array = new DmaFenceArray(domain, [alloc(1, 1)], domain.contextAlloc(1), 1, false);
    const chain = new DmaFenceChain(domain, null, alloc(1, 2), 1);
    locked(() => {
      resv.reserveFences(2);
      expect(() => resv.addFence(array, DmaResvUsage.READ)).toThrow(/container/);
      expect(() => resv.addFence(chain, DmaResvUsage.READ)).toThrow(/container/);
    });
  });

  it('replace_fences swaps every fence of a context for the replacement (dma_resv_replace_fences)', () => {
    const { alloc, resv, locked } = setup();
    const preempt = alloc(3, 1);
    const other = alloc(4, 1);
    const update = alloc(5, 1);
    locked(() => {
      resv.reserveFences(2);
      resv.addFence(preempt, DmaResvUsage.BOOKKEEP);
      resv.addFence(other, DmaResvUsage.READ);
      resv.replaceFences(3, update, DmaResvUsage.KERNEL);
      expect(resv.fences(DmaResvUsage.BOOKKEEP)).toEqual([
        { fence: update, usage: DmaResvUsage.KERNEL },
        { fence: other, usage: DmaResvUsage.READ },
      ]);
    });
    expect([preempt.refcount, update.refcount]).toEqual([1, 2]);
  });

  it('copy_fences takes the unsignaled fences of every usage, replacing the old ones (dma_resv_copy_fences)', () => {
    const { domain, alloc, resv, locked } = setup();
    const dst = new DmaResv(domain, 'dst');
    const a = alloc(1, 1);
    const b = alloc(2, 1);
    const c = alloc(3, 1);
    const stale = alloc(9, 1);
    locked(() => {
      resv.reserveFences(3);
      resv.addFence(a, DmaResvUsage.WRITE);
      resv.addFence(b, DmaResvUsage.BOOKKEEP);
      resv.addFence(c, DmaResvUsage.READ);
    });
    c.signal();
    expect(E.isRight(dst.lock())).toBe(true);
    dst.reserveFences(1);
    dst.addFence(stale, DmaResvUsage.KERNEL);
    dst.copyFences(resv);
    expect(dst.fences(DmaResvUsage.BOOKKEEP)).toEqual([
      { fence: a, usage: DmaResvUsage.WRITE },
      { fence: b, usage: DmaResvUsage.BOOKKEEP },
    ]);
    dst.unlock();
    expect(stale.refcount).toBe(1);
  });

  it('get_singleton gives null, the fence itself, or an array of all (dma_resv_get_singleton)', () => {
    const { alloc, resv, locked } = setup();
    expect(resv.getSingleton(DmaResvUsage.READ)).toBe(null);
    const a = alloc(1, 1);
    const b = alloc(2, 1);
    locked(() => {
      resv.reserveFences(2);
      resv.addFence(a, DmaResvUsage.WRITE);
    });
    const one = resv.getSingleton(DmaResvUsage.READ);
    expect(one).toBe(a);
    one?.put();
    locked(() => {
      resv.reserveFences(1);
      resv.addFence(b, DmaResvUsage.READ);
    });
    const all = resv.getSingleton(DmaResvUsage.READ);
    expect(all instanceof DmaFenceArray && all.fences).toEqual([a, b]);
    a.signal();
    expect(all?.isSignaled()).toBe(false);
    b.signal();
    expect(all?.isSignaled()).toBe(true);
    all?.put();
    expect([a.refcount, b.refcount]).toEqual([2, 2]);
  });

  it('a consumer wait at READ covers the producer WRITE fence signaled by a device timer', () => {
    const { clock, alloc, resv, locked } = setup();
    const write = alloc(1, 1);
    const later = alloc(2, 1);
    locked(() => {
      resv.reserveFences(2);
      resv.addFence(write, DmaResvUsage.WRITE);
      resv.addFence(later, DmaResvUsage.BOOKKEEP);
    });
    clock.at(400, () => write.signal());
    expect(resv.waitTimeout(DmaResvUsage.READ, 1000)).toBe(600);
    expect(clock.now()).toBe(400);
    expect(resv.waitTimeout(DmaResvUsage.BOOKKEEP, 100)).toBe(0);
    expect(clock.now()).toBe(500);
    expect(resv.waitTimeout(DmaResvUsage.BOOKKEEP, 0)).toBe(0);
    expect(resv.waitTimeout(DmaResvUsage.WRITE, 0)).toBe(1);
  });

  it('a resv wait spans all fences within one deadline', () => {
    const { clock, alloc, resv, locked } = setup();
    const fences = [alloc(1, 1), alloc(2, 1), alloc(3, 1)];
    locked(() => {
      resv.reserveFences(3);
      for (const f of fences) resv.addFence(f, DmaResvUsage.READ);
    });
    clock.at(300, () => fences[0]?.signal());
    clock.at(100, () => fences[2]?.signal());
    clock.at(900, () => fences[1]?.signal());
    expect(resv.waitTimeout(DmaResvUsage.READ, 800)).toBe(0);
    expect(clock.now()).toBe(800);
    expect(resv.waitTimeout(DmaResvUsage.READ, 800)).toBe(700);
  });

  it('fini drops every reference; a finalized object cannot be locked (dma_resv_fini)', () => {
    const { alloc, resv, locked } = setup();
    const f = alloc(1, 1);
    locked(() => {
      resv.reserveFences(1);
      resv.addFence(f, DmaResvUsage.WRITE);
    });
    resv.fini();
    expect(f.refcount).toBe(1);
    expect(() => resv.lock()).toThrow(/finalized/);
  });

  it('adding a fence is one plain-JSON resv-add-fence event naming any replaced entry', () => {
    const { clock, domain, alloc, resv, locked } = setup();
    const recorder = new TraceRecorder(clock).record(domain.bus);
    const f1 = alloc(1, 1);
    const f2 = alloc(1, 2);
    locked(() => {
      resv.reserveFences(1);
      resv.addFence(f1, DmaResvUsage.WRITE);
      resv.addFence(f2, DmaResvUsage.WRITE);
    });
    expect(recorder.filter('dma-fence', 'resv-add-fence').map((e) => e.payload)).toEqual([
      { resv: 'bo', fence: f1.ref(), usage: 'write', replaced: null },
      { resv: 'bo', fence: f2.ref(), usage: 'write', replaced: f1.ref() },
    ]);
    expect(recorder.filter('dma-fence', 'resv-lock').map((e) => e.payload)).toEqual([
      { resv: 'bo', ctx: null },
    ]);
  });
});
