import { fc, test as fcTest } from '@fast-check/vitest';
import { ok, PhysicalMemory, unwrap } from '@sharedbuf/platform';
import { describe, expect, it } from 'vitest';
import {
  ArmLpaeS1Pgtable,
  IOMMU_READ,
  IOMMU_WRITE,
  type IoPageWalker,
  type IoTranslation,
} from '../src/io-pgtable/index.js';
import { Iotlb, IotlbGather } from '../src/iotlb/index.js';

const SZ_4K = 4096;
const SZ_2M = 2 ** 21;
const RW = IOMMU_READ | IOMMU_WRITE;
const ASID = 7;

const translation = (): IoTranslation => ({ phys: 0, pgsize: 0, prot: 0 });

/** A page table whose unmaps report to `iotlb` for address space `asid`. */
const tableFor = (iotlb: Iotlb, asid: number): ArmLpaeS1Pgtable => {
  const memory = new PhysicalMemory([{ name: 'tables', base: 0x4000_0000, size: 1 << 20 }]);
  let next = 0x4000_0000 / SZ_4K;
  return unwrap(
    ArmLpaeS1Pgtable.alloc({
      memory,
      allocTable: () => ok(next++),
      freeTable: () => {},
      tlb: iotlb.flushOps(asid),
    }),
  );
};

/** A walker that maps every page to itself plus a fixed offset, counting walks. */
const identityWalker = (offset: number) => {
  const w = {
    walks: 0,
    walk(iova: number, out: IoTranslation): boolean {
      w.walks++;
      out.phys = iova + offset;
      out.pgsize = SZ_4K;
      out.prot = RW;
      return true;
    },
  };
  return w satisfies IoPageWalker;
};

describe('Iotlb — stale translations until invalidation', () => {
  it('a device DMAing after unmap but before the flush still reaches the old page; iommu_iotlb_sync ends it (include/linux/iommu.h)', () => {
    const iotlb = new Iotlb();
    const pt = tableFor(iotlb, ASID);
    const out = translation();
    unwrap(pt.mapPages(0x10_0000, 0xdead_0000, SZ_4K, 1, RW));
    expect(iotlb.translate(ASID, 0x10_0010, pt, out)).toBe(true);
    expect(out.phys).toBe(0xdead_0010);

    const gather = new IotlbGather(iotlb, ASID);
    expect(pt.unmapPages(0x10_0000, SZ_4K, 1, gather)).toBe(SZ_4K);
    expect(pt.iovaToPhys(0x10_0010)).toBe(-1);
    // The bug the flush prevents: the IOTLB still holds the unmapped page.
    expect(iotlb.translate(ASID, 0x10_0010, pt, out)).toBe(true);
    expect(out.phys).toBe(0xdead_0010);

    gather.sync();
    expect(iotlb.translate(ASID, 0x10_0010, pt, out)).toBe(false);
    expect(iotlb.flushes).toBe(1);
  });

  it('freeing a table on a block-sized unmap flushes its range at once (io_pgtable_tlb_flush_walk)', () => {
    const iotlb = new Iotlb();
    const pt = tableFor(iotlb, ASID);
    const out = translation();
    unwrap(pt.mapPages(SZ_2M, 0x9000_0000, SZ_4K, 4, RW));
    expect(iotlb.translate(ASID, SZ_2M + SZ_4K, pt, out)).toBe(true);
    expect(pt.unmapPages(SZ_2M, SZ_2M, 1)).toBe(SZ_2M);
    expect(iotlb.lookup(ASID, SZ_2M + SZ_4K, out)).toBe(false);
  });

  it('counts hits and misses; a fault is not cached', () => {
    const iotlb = new Iotlb();
    const pt = tableFor(iotlb, ASID);
    const out = translation();
    unwrap(pt.mapPages(0, 0x5000, SZ_4K, 1, IOMMU_READ));
    iotlb.translate(ASID, 0, pt, out);
    iotlb.translate(ASID, 8, pt, out);
    expect(out).toEqual({ phys: 0x5008, pgsize: SZ_4K, prot: IOMMU_READ });
    expect(iotlb.translate(ASID, SZ_4K, pt, out)).toBe(false);
    expect(iotlb.translate(ASID, SZ_4K, pt, out)).toBe(false);
    expect([iotlb.hits, iotlb.misses, iotlb.size]).toEqual([1, 3, 1]);
  });
});

describe('Iotlb — capacity and invalidation scopes', () => {
  it('replaces deterministically: the oldest entry of a full set goes first (round-robin)', () => {
    const iotlb = new Iotlb({ sets: 4, ways: 2 });
    const walker = identityWalker(0x1000_0000);
    const out = translation();
    // Pages 4 sets apart share a set.
    for (const page of [0, 4, 8]) iotlb.translate(ASID, page * SZ_4K, walker, out);
    expect(iotlb.lookup(ASID, 0, out)).toBe(false);
    expect(iotlb.lookup(ASID, 4 * SZ_4K, out)).toBe(true);
    expect(iotlb.lookup(ASID, 8 * SZ_4K, out)).toBe(true);
    iotlb.translate(ASID, 12 * SZ_4K, walker, out);
    expect(iotlb.lookup(ASID, 4 * SZ_4K, out)).toBe(false);
    expect(iotlb.lookup(ASID, 8 * SZ_4K, out)).toBe(true);
  });

  it('flushAsid drops one address space, flushAll drops all, flushRange only its pages', () => {
    const iotlb = new Iotlb();
    const walker = identityWalker(0);
    const out = translation();
    for (const asid of [1, 2]) for (let p = 0; p < 8; p++) iotlb.translate(asid, p * SZ_4K, walker, out);
    iotlb.flushRange(1, 2 * SZ_4K, 3 * SZ_4K);
    const cached = (asid: number) =>
      Array.from({ length: 8 }, (_, p) => Number(iotlb.lookup(asid, p * SZ_4K, out))).join('');
    expect(cached(1)).toBe('11000111');
    iotlb.flushAsid(1);
    expect(cached(1)).toBe('00000000');
    expect(cached(2)).toBe('11111111');
    iotlb.flushAll();
    expect(iotlb.size).toBe(0);
    expect(iotlb.flushes).toBe(3);
  });

  it('emits fill and flush events', () => {
    const iotlb = new Iotlb();
    const events: string[] = [];
    iotlb.bus.tap((_, type) => events.push(type));
    iotlb.translate(1, 0x3000, identityWalker(0), translation());
    iotlb.flushAsid(1);
    expect(events).toEqual(['fill', 'flush']);
  });

  it('rejects a shape that is not sets (power of two) × ways', () => {
    expect(() => new Iotlb({ sets: 3 })).toThrow(RangeError);
    expect(() => new Iotlb({ ways: 0 })).toThrow(RangeError);
  });

  const cmdArb = fc.oneof(
    fc.record({ kind: fc.constant('dma' as const), asid: fc.nat(3), page: fc.nat(300) }),
    fc.record({
      kind: fc.constant('range' as const),
      asid: fc.nat(3),
      page: fc.nat(300),
      pages: fc.nat(200),
    }),
    fc.record({ kind: fc.constant('asid' as const), asid: fc.nat(3) }),
  );

  fcTest.prop([fc.array(cmdArb, { maxLength: 200 }), fc.constantFrom(1, 4, 16), fc.constantFrom(1, 2, 4)])(
    'a hit always returns the translation last filled for that page and never one flushed since',
    (cmds, sets, ways) => {
      const iotlb = new Iotlb({ sets, ways });
      const live = new Map<string, number>();
      let generation = 0;
      const out = translation();
      for (const c of cmds) {
        if (c.kind === 'dma') {
          const key = `${c.asid}:${c.page}`;
          const iova = 2 ** 40 + c.page * SZ_4K + 5;
          if (iotlb.lookup(c.asid, iova, out)) {
            expect(out.phys).toBe(live.get(key));
          } else {
            generation++;
            const phys = generation * SZ_4K + 5;
            iotlb.fill(c.asid, iova, { phys, pgsize: SZ_4K, prot: RW });
            live.set(key, phys);
          }
        } else if (c.kind === 'range') {
          iotlb.flushRange(c.asid, 2 ** 40 + c.page * SZ_4K, c.pages * SZ_4K + 1);
          for (let p = c.page; p <= c.page + c.pages; p++) live.delete(`${c.asid}:${p}`);
          for (let p = c.page; p <= c.page + c.pages; p++) {
            expect(iotlb.lookup(c.asid, 2 ** 40 + p * SZ_4K, out)).toBe(false);
          }
        } else {
          iotlb.flushAsid(c.asid);
          for (const k of [...live.keys()]) if (k.startsWith(`${c.asid}:`)) live.delete(k);
        }
      }
      expect(iotlb.size).toBeLessThanOrEqual(sets * ways);
    },
  );
});

describe('IotlbGather — struct iommu_iotlb_gather (include/linux/iommu.h)', () => {
  it('adjacent pages of one size merge into one range and one flush (iommu_iotlb_gather_add_page)', () => {
    const iotlb = new Iotlb();
    const g = new IotlbGather(iotlb, ASID);
    expect(g.empty).toBe(true);
    g.addPage(2 * SZ_4K, SZ_4K);
    g.addPage(SZ_4K, SZ_4K);
    g.addPage(3 * SZ_4K, SZ_4K);
    expect([g.start, g.end, g.pgsize]).toEqual([SZ_4K, 4 * SZ_4K - 1, SZ_4K]);
    expect(iotlb.flushes).toBe(0);
    g.sync();
    expect(iotlb.flushes).toBe(1);
    expect(g.empty).toBe(true);
  });

  it('a disjoint page or a different page size syncs what was gathered first', () => {
    const iotlb = new Iotlb();
    const g = new IotlbGather(iotlb, ASID);
    g.addPage(0, SZ_4K);
    g.addPage(10 * SZ_4K, SZ_4K);
    expect(iotlb.flushes).toBe(1);
    expect([g.start, g.end]).toEqual([10 * SZ_4K, 11 * SZ_4K - 1]);
    g.addPage(SZ_2M, SZ_2M);
    expect(iotlb.flushes).toBe(2);
    expect(g.pgsize).toBe(SZ_2M);
  });

  it('an empty gather is disjoint from nothing, and syncing it issues no flush (iommu_iotlb_gather_is_disjoint)', () => {
    const iotlb = new Iotlb();
    const g = new IotlbGather(iotlb, ASID);
    expect(g.isDisjoint(2 ** 45, SZ_4K)).toBe(false);
    g.sync();
    expect(iotlb.flushes).toBe(0);
    g.addRange(SZ_4K, SZ_4K);
    expect(g.isDisjoint(2 * SZ_4K, SZ_4K)).toBe(false);
    expect(g.isDisjoint(3 * SZ_4K, SZ_4K)).toBe(true);
  });
});
