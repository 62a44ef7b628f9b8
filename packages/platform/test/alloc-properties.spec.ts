import { fc, test as fcTest } from '@fast-check/vitest';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect } from 'vitest';
import { Bitmap } from '../src/alloc/bitmap.js';
import { Carveout, ContiguousAllocator, type MemoryEvents, PageAllocator } from '../src/alloc/index.js';
import { EventBus, PhysicalMemory } from '../src/index.js';

const PAGE = 4096;
const MiB = 2 ** 20;
// Unaligned edges, a bank straddling 4 GiB, a bank above it, and an excluded range: ~3000 pages.
const BANKS = [
  { name: 'low', base: 0x8000_0000 + 5 * PAGE, size: 3 * MiB + 7 * PAGE },
  { name: 'mid', base: 2 ** 32 - 2 * MiB, size: 4 * MiB },
  { name: 'high', base: 2 ** 32 + 4 * MiB + 3 * PAGE, size: 5 * MiB },
];
const EXCLUDED = { base: 0x8010_0000 + 2 * PAGE, size: 300 * 1024 };
const LIMITS = [undefined, 0xffff_ffff, 0x8020_0000 - 1, 2 ** 32 + 6 * MiB + 12345, 0x7fff_ffff] as const;

type Command =
  | { readonly kind: 'alloc'; readonly order: number; readonly limit: number; readonly zeroed: boolean }
  | { readonly kind: 'free'; readonly pick: number }
  | { readonly kind: 'bad-free'; readonly pick: number; readonly how: number }
  | { readonly kind: 'pin'; readonly pick: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('alloc' as const),
      order: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 11 })),
      limit: fc.integer({ min: 0, max: LIMITS.length - 1 }),
      zeroed: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bad-free' as const),
      pick: fc.nat(),
      how: fc.integer({ min: 0, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pin' as const), pick: fc.nat() }) },
);

interface Block {
  readonly pfn: number;
  readonly order: number;
  readonly maxAddress: number | undefined;
  pinned: boolean;
}

const boot = () => {
  const memory = new PhysicalMemory(BANKS);
  const pa = new PageAllocator(memory, new EventBus<MemoryEvents>('memory'), { exclude: [EXCLUDED] });
  return { memory, pa };
};

/** A cheap fingerprint of the allocator's state: free blocks per order, counters, free pages per limit. */
const snapshot = (pa: PageAllocator, live: readonly Block[]): string =>
  JSON.stringify([
    pa.buddyInfo(),
    pa.pages.allocatedPages,
    live.map((b) => [pa.pages.refcount(b.pfn), pa.pages.pincount(b.pfn)]),
    LIMITS.map((l) => [pa.freePageCount(l), pa.largestFreeOrder(l)]),
  ]);

interface Observer {
  /** A block was handed out; `live` holds the blocks allocated before it and not freed since. */
  allocated?(block: Block, live: readonly Block[]): void;
  failed?(before: string, after: string, what: string): void;
}

/** Runs the commands, returning the blocks still live and the blocks freed. */
const run = (pa: PageAllocator, commands: readonly Command[], observer: Observer = {}) => {
  const live: Block[] = [];
  const freed: Block[] = [];
  const failing = (what: string, op: () => E.Either<unknown, unknown>): void => {
    const before = snapshot(pa, live);
    expect(E.isLeft(op())).toBe(true);
    observer.failed?.(before, snapshot(pa, live), what);
  };
  for (const c of commands) {
    const block = live.length > 0 ? live[(c.kind === 'alloc' ? 0 : c.pick) % live.length] : undefined;
    if (c.kind === 'alloc') {
      const maxAddress = LIMITS[c.limit];
      const fits = c.order <= 10 && pa.largestFreeOrder(maxAddress) >= c.order;
      if (!fits) {
        failing(`alloc order ${c.order}`, () => pa.allocPages(c.order, { maxAddress, zeroed: c.zeroed }));
        continue;
      }
      const r = pa.allocPages(c.order, { maxAddress, zeroed: c.zeroed });
      if (E.isLeft(r)) throw new Error(`largestFreeOrder promised order ${c.order}: ${r.left.message}`);
      const b: Block = { pfn: r.right, order: c.order, maxAddress, pinned: false };
      observer.allocated?.(b, live);
      live.push(b);
    } else if (block === undefined) {
    } else if (c.kind === 'free') {
      if (block.pinned) {
        failing('free of a pinned block', () => pa.freePages(block.pfn, block.order));
        continue;
      }
      expect(E.isRight(pa.freePages(block.pfn, block.order))).toBe(true);
      live.splice(live.indexOf(block), 1);
      freed.push(block);
    } else if (c.kind === 'pin') {
      if (!block.pinned) expect(E.isRight(pa.pages.pin(block.pfn + 2 ** block.order - 1))).toBe(true);
      block.pinned = true;
    } else {
      const stale = freed[c.pick % Math.max(freed.length, 1)];
      if (c.how === 0 && stale !== undefined && pa.pages.compoundHead(stale.pfn) < 0) {
        failing('double free', () => pa.freePages(stale.pfn, stale.order));
      } else if (c.how === 1)
        failing('free with a wrong order', () => pa.freePages(block.pfn, (block.order + 1) % 11));
      else if (c.how === 2 && block.order > 0)
        failing('free of a tail page', () => pa.freePages(block.pfn + 1, 0));
      else if (c.how === 3)
        failing('free of an excluded page', () => pa.freePages(EXCLUDED.base / PAGE + 1, 0));
    }
  }
  return { live, freed };
};

const commands = fc.array(commandArb, { maxLength: 80 });

describe('PageAllocator properties', () => {
  fcTest.prop([commands])(
    'never hands out a frame twice, nor an excluded or missing one (mm/page_alloc.c)',
    (cmds) => {
      const { memory, pa } = boot();
      run(pa, cmds, {
        allocated: (b, live) => {
          const end = b.pfn + 2 ** b.order;
          for (const l of live) expect(end <= l.pfn || b.pfn >= l.pfn + 2 ** l.order).toBe(true);
          expect(memory.isRam(b.pfn * PAGE, 2 ** b.order * PAGE)).toBe(true);
          expect(b.pfn * PAGE >= EXCLUDED.base + EXCLUDED.size || end * PAGE <= EXCLUDED.base).toBe(true);
          expect(pa.freePageCount() + pa.pages.allocatedPages).toBe(pa.managedPages);
        },
      });
      expect(pa.freePageCount() + pa.pages.allocatedPages).toBe(pa.managedPages);
    },
  );

  fcTest.prop([commands])(
    'every block respects its maxAddress and the natural alignment of its order',
    (cmds) => {
      const { pa } = boot();
      run(pa, cmds, {
        allocated: (b) => {
          expect(b.pfn % 2 ** b.order).toBe(0);
          if (b.maxAddress !== undefined)
            expect((b.pfn + 2 ** b.order) * PAGE - 1).toBeLessThanOrEqual(b.maxAddress);
        },
      });
    },
  );

  fcTest.prop([commands])(
    'after everything is freed the free counts per order are those at boot (mm/page_alloc.c __free_one_page)',
    (cmds) => {
      const { pa } = boot();
      const initial = JSON.stringify(pa.buddyInfo());
      const { live } = run(pa, cmds);
      for (const b of live) {
        if (b.pinned) expect(E.isRight(pa.pages.unpin(b.pfn + 2 ** b.order - 1))).toBe(true);
        expect(E.isRight(pa.freePages(b.pfn, b.order))).toBe(true);
      }
      expect(JSON.stringify(pa.buddyInfo())).toBe(initial);
      expect(pa.freePageCount()).toBe(pa.managedPages);
      expect(pa.pages.allocatedPages).toBe(0);
    },
  );

  fcTest.prop([commands])('a failed operation leaves the allocator unchanged', (cmds) => {
    const { pa } = boot();
    run(pa, cmds, { failed: (before, after, what) => expect(after, what).toBe(before) });
  });
});

describe('ContiguousAllocator and Carveout properties', () => {
  const ops = fc.array(
    fc.record({
      alloc: fc.boolean(),
      count: fc.integer({ min: 1, max: 20 }),
      align: fc.integer({ min: 0, max: 4 }),
      pick: fc.nat(),
    }),
    { maxLength: 60 },
  );

  fcTest.prop([ops])(
    'CMA runs never overlap, honour alignment, failures change nothing, and release restores the region (mm/cma.c)',
    (steps) => {
      const cma = new ContiguousAllocator(
        { name: 'cma', base: 0x8000_3000, size: 100 * PAGE },
        new EventBus<MemoryEvents>('m'),
      );
      const live: { pfn: number; count: number }[] = [];
      const taken = new Set<number>();
      for (const s of steps) {
        const state = [cma.usedPages, cma.largestFreeRun()];
        if (s.alloc || live.length === 0) {
          const r = cma.alloc(s.count, s.align);
          if (E.isLeft(r)) {
            expect([cma.usedPages, cma.largestFreeRun()]).toEqual(state);
            continue;
          }
          expect(r.right % 2 ** s.align).toBe(0);
          for (let p = r.right; p < r.right + s.count; p++) {
            expect(taken.has(p)).toBe(false);
            taken.add(p);
          }
          live.push({ pfn: r.right, count: s.count });
        } else {
          const [run] = live.splice(s.pick % live.length, 1);
          if (run === undefined) continue;
          expect(E.isRight(cma.release(run.pfn, run.count))).toBe(true);
          expect(E.isLeft(cma.release(run.pfn, run.count))).toBe(true);
          for (let p = run.pfn; p < run.pfn + run.count; p++) taken.delete(p);
        }
      }
      for (const run of live) expect(E.isRight(cma.release(run.pfn, run.count))).toBe(true);
      expect(cma.largestFreeRun()).toBe(100);
    },
  );

  fcTest.prop([ops])(
    'carveout ranges never overlap, are aligned, and freeing everything restores the pool (lib/genalloc.c)',
    (steps) => {
      const pool = new Carveout(
        { name: 'co', base: 0x9000_1000, size: 100 * PAGE },
        new EventBus<MemoryEvents>('m'),
      );
      const live: { addr: number; size: number }[] = [];
      for (const s of steps) {
        if (s.alloc || live.length === 0) {
          const size = s.count * 1000;
          const align = 2 ** (s.align * 3 + 10);
          const before = pool.availableBytes;
          const r = pool.alloc(size, align);
          if (E.isLeft(r)) {
            expect(pool.availableBytes).toBe(before);
            continue;
          }
          expect(r.right % align).toBe(0);
          for (const l of live) expect(r.right >= l.addr + l.size || r.right + size <= l.addr).toBe(true);
          live.push({ addr: r.right, size });
        } else {
          const [range] = live.splice(s.pick % live.length, 1);
          if (range === undefined) continue;
          expect(E.isRight(pool.free(range.addr, range.size))).toBe(true);
          expect(E.isLeft(pool.free(range.addr, range.size))).toBe(true);
        }
      }
      for (const l of live) expect(E.isRight(pool.free(l.addr, l.size))).toBe(true);
      expect(pool.availableBytes).toBe(100 * PAGE);
    },
  );

  fcTest.prop([
    fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }),
    fc.integer({ min: 1, max: 12 }),
    fc.integer({ min: 0, max: 4 }),
    fc.integer({ min: 0, max: 15 }),
  ])(
    'bitmap_find_next_zero_area_off finds the first aligned free run (lib/bitmap.c)',
    (bits, nr, alignOrder, offsetSeed) => {
      const map = new Bitmap(bits.length);
      bits.forEach((b, i) => {
        if (b) map.set(i, 1);
      });
      const align = 2 ** alignOrder;
      const offset = offsetSeed % align;
      let expected = -1;
      for (let i = 0; i + nr <= bits.length && expected < 0; i++) {
        if ((i + offset) % align === 0 && bits.slice(i, i + nr).every((b) => !b)) expected = i;
      }
      expect(map.findNextZeroArea(bits.length, 0, nr, align, offset)).toBe(expected);
    },
  );
});
