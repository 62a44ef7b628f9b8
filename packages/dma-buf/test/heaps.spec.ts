import { EventBus, PAGE_SIZE, Platform, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  type BackingPlan,
  combineConstraints,
  type HeapCapabilities,
  KiB,
  MiB,
  NO_LIMIT,
  planBacking,
  unconstrainedAttacher,
} from '../src/constraints/index.js';
import {
  CarveoutHeap,
  CmaHeap,
  defaultHeaps,
  type HeapEvents,
  HeapRegistry,
  SystemHeap,
} from '../src/heaps/index.js';

/** A plan as `planBacking` would write it, with the fields the heaps read chosen by the test. */
const planFor = (
  heap: HeapCapabilities,
  size: number,
  o: { chunkFloor?: number; maxAddress?: number; alignment?: number } = {},
): BackingPlan => ({
  size,
  heap: heap.name,
  heapKind: heap.kind,
  physicallyContiguous: heap.physicallyContiguous,
  chunks: [],
  chunkFloor: o.chunkFloor ?? (heap.physicallyContiguous ? 0 : PAGE_SIZE),
  backingBytes: size,
  maxAddress: o.maxAddress ?? NO_LIMIT,
  alignment: o.alignment ?? PAGE_SIZE,
  segmentSize: NO_LIMIT,
  expectedSegmentCount: 1,
  attachers: [],
  bounced: [],
  cpuNeedsCacheMaintenance: false,
  reasons: [],
});

/** A 16 MiB machine with no reserved regions, where fragmenting all memory is cheap. */
const smallMachine = () =>
  new Platform({ banks: [{ name: 'dram0', base: 0, size: 16 * MiB }], cma: [], carveouts: [] });

const left = <T>(r: E.Either<{ code: string; detail: Readonly<Record<string, unknown>> }, T>) => {
  if (E.isRight(r)) throw new Error('expected a failure');
  return r.left;
};

const readBytes = (p: Platform, addr: number, length: number): Uint8Array => {
  const out = new Uint8Array(length);
  unwrap(p.cpu.read(addr, out, 0, length));
  return out;
};

describe('SystemHeap', () => {
  it('allocates 1 MiB, 64 KiB and 4 KiB chunks, largest first, each naturally aligned (drivers/dma-buf/heaps/system_heap.c)', () => {
    const heap = new SystemHeap(new Platform());
    const b = unwrap(heap.allocate(planFor(heap, 2 * MiB + 3 * 64 * KiB + 5 * 4 * KiB)));
    expect(b.runs.map((r) => r.length)).toEqual([
      MiB,
      MiB,
      64 * KiB,
      64 * KiB,
      64 * KiB,
      ...Array(5).fill(4 * KiB),
    ]);
    for (const r of b.runs) expect(r.phys % r.length).toBe(0);
    expect(b.size).toBe(2 * MiB + 3 * 64 * KiB + 5 * 4 * KiB);
  });

  it('falls back to the next order when no high-order block is free (HIGH_ORDER_GFP with __GFP_NORETRY, system_heap.c)', () => {
    const p = smallMachine();
    const blocks: number[] = [];
    for (let pfn = p.pages.tryAllocPages(4); pfn >= 0; pfn = p.pages.tryAllocPages(4)) blocks.push(pfn);
    // Every other 64 KiB block free: nothing larger than 64 KiB is left.
    for (const pfn of blocks.filter((_, i) => i % 2 === 0)) unwrap(p.pages.freePages(pfn, 4));
    const heap = new SystemHeap(p);
    const b = unwrap(heap.allocate(planFor(heap, MiB + 4 * KiB)));
    expect(b.runs.map((r) => r.length)).toEqual([...Array(16).fill(64 * KiB), 4 * KiB]);
  });

  it('never hands out a chunk below the plan floor: a short remainder takes one partly used floor chunk', () => {
    const heap = new SystemHeap(new Platform());
    const b = unwrap(
      heap.allocate(planFor(heap, MiB + 100 * KiB, { chunkFloor: 64 * KiB, maxAddress: 2 ** 30 - 1 })),
    );
    expect(b.runs.map((r) => r.length)).toEqual([MiB, 64 * KiB, 36 * KiB]);
    for (const r of b.runs) expect(r.phys + r.length - 1).toBeLessThanOrEqual(2 ** 30 - 1);
    expect(unwrap(heap.allocate(planFor(heap, 8 * KiB, { chunkFloor: MiB }))).runs).toHaveLength(1);
  });

  it('zeroes every chunk and leaves no stale cache line over it (__GFP_ZERO, system_heap.c)', () => {
    const p = new Platform();
    const pfn = unwrap(p.pages.allocPages(0));
    unwrap(p.cpu.write(pfn * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(0xab), 0, PAGE_SIZE));
    expect(p.cache.isDirty(pfn * PAGE_SIZE)).toBe(true);
    unwrap(p.pages.freePages(pfn, 0));
    const heap = new SystemHeap(p);
    const b = unwrap(heap.allocate(planFor(heap, PAGE_SIZE)));
    expect(b.runs[0]?.phys).toBe(pfn * PAGE_SIZE);
    expect(p.cache.isDirty(pfn * PAGE_SIZE)).toBe(false);
    expect(readBytes(p, pfn * PAGE_SIZE, PAGE_SIZE).every((x) => x === 0)).toBe(true);
  });

  it('frees every chunk it took when memory runs out: ENOMEM leaves nothing allocated (free_buffer path, system_heap.c)', () => {
    const p = smallMachine();
    const heap = new SystemHeap(p);
    const before = p.pages.buddyInfo();
    const e = left(heap.allocate(planFor(heap, 17 * MiB)));
    expect(e.code).toBe('ENOMEM');
    expect(e.detail).toMatchObject({
      heap: 'system',
      size: 17 * MiB,
      gathered: 16 * MiB,
      freeBytes: 16 * MiB,
    });
    expect(p.pages.buddyInfo()).toEqual(before);
  });

  it('refuses a plan made for another heap or for one contiguous block (EINVAL)', () => {
    const p = new Platform();
    const heap = new SystemHeap(p);
    const cma = new CmaHeap(p, p.defaultCma as NonNullable<typeof p.defaultCma>);
    expect(left(heap.allocate(planFor(cma, MiB))).code).toBe('EINVAL');
    expect(left(heap.allocate({ ...planFor(heap, MiB), chunkFloor: 0 })).code).toBe('EINVAL');
    expect(left(heap.allocate(planFor(heap, 1000))).code).toBe('EINVAL');
  });
});

describe('CmaHeap', () => {
  const setup = () => {
    const p = new Platform();
    const region = p.defaultCma as NonNullable<typeof p.defaultCma>;
    return { p, region, heap: new CmaHeap(p, region) };
  };

  it("aligns each buffer to its size's order, capped at CONFIG_CMA_ALIGNMENT (drivers/dma-buf/heaps/cma_heap.c)", () => {
    const { region, heap } = setup();
    const a = unwrap(heap.allocate(planFor(heap, 4 * KiB)));
    const b = unwrap(heap.allocate(planFor(heap, 24 * KiB)));
    const c = unwrap(heap.allocate(planFor(heap, 8 * MiB)));
    expect(a.runs).toEqual([{ phys: region.base, length: 4 * KiB }]);
    // 6 pages: get_order is 3, so 32 KiB alignment.
    expect(b.runs).toEqual([{ phys: region.base + 32 * KiB, length: 24 * KiB }]);
    // 2048 pages: get_order 11, capped at 8 (1 MiB): the block is not 8 MiB aligned.
    expect(c.runs).toEqual([{ phys: region.base + MiB, length: 8 * MiB }]);
  });

  it('gives one physically contiguous, zeroed run from cma_alloc (cma_heap.c)', () => {
    const { p, region, heap } = setup();
    const pfn = unwrap(region.alloc(16, 0));
    unwrap(p.cpu.write(pfn * PAGE_SIZE, new Uint8Array(64 * KiB).fill(7), 0, 64 * KiB));
    unwrap(region.release(pfn, 16));
    const b = unwrap(heap.allocate(planFor(heap, 64 * KiB)));
    expect(b.runs).toHaveLength(1);
    expect(b.runs[0]?.phys).toBe(pfn * PAGE_SIZE);
    expect(readBytes(p, pfn * PAGE_SIZE, 64 * KiB).every((x) => x === 0)).toBe(true);
    expect(region.usedPages).toBe(16);
  });

  it("keeps the run at or below the plan's limit, and fails with ENOMEM changing nothing when it cannot", () => {
    const { region, heap } = setup();
    const limit = region.base + 2 * MiB - 1;
    unwrap(heap.allocate(planFor(heap, MiB, { maxAddress: limit })));
    const e = left(heap.allocate(planFor(heap, 2 * MiB, { maxAddress: limit })));
    expect(e.code).toBe('ENOMEM');
    expect(e.detail).toMatchObject({
      heap: 'reserved',
      size: 2 * MiB,
      maxAddress: limit,
      largestFreeRun: MiB,
    });
    expect(region.usedPages).toBe(256);
  });

  it("honours the plan's alignment above the kernel's", () => {
    const { region, heap } = setup();
    unwrap(heap.allocate(planFor(heap, 4 * KiB)));
    const b = unwrap(heap.allocate(planFor(heap, 4 * KiB, { alignment: 4 * MiB })));
    expect(b.runs[0]?.phys).toBe(region.base + 4 * MiB);
  });
});

describe('CarveoutHeap', () => {
  const setup = (isProtected = false) => {
    const p = new Platform();
    const carveout = p.carveouts.get('carveout') as NonNullable<ReturnType<typeof p.carveouts.get>>;
    return { p, carveout, heap: new CarveoutHeap(p, carveout, { protected: isProtected }) };
  };

  it('carves one zeroed block, the lowest free one aligned as asked (gen_pool_first_fit_align, lib/genalloc.c)', () => {
    const { p, carveout, heap } = setup();
    unwrap(p.cpu.write(carveout.base, new Uint8Array(PAGE_SIZE).fill(9), 0, PAGE_SIZE));
    const a = unwrap(heap.allocate(planFor(heap, 12 * KiB)));
    const b = unwrap(heap.allocate(planFor(heap, 8 * KiB, { alignment: 64 * KiB })));
    const c = unwrap(heap.allocate(planFor(heap, 4 * KiB)));
    expect(a.runs).toEqual([{ phys: carveout.base, length: 12 * KiB }]);
    expect(b.runs).toEqual([{ phys: carveout.base + 64 * KiB, length: 8 * KiB }]);
    expect(c.runs).toEqual([{ phys: carveout.base + 12 * KiB, length: 4 * KiB }]);
    expect(readBytes(p, carveout.base, PAGE_SIZE).every((x) => x === 0)).toBe(true);
    expect(carveout.availableBytes).toBe(64 * MiB - 24 * KiB);
  });

  it('fails with ENOMEM, holding nothing, when no block fits below the limit', () => {
    const { carveout, heap } = setup();
    const limit = carveout.base + MiB - 1;
    unwrap(heap.allocate(planFor(heap, 512 * KiB)));
    const e = left(heap.allocate(planFor(heap, MiB, { maxAddress: limit })));
    expect(e.code).toBe('ENOMEM');
    expect(e.detail).toMatchObject({ heap: 'carveout', availableBytes: 64 * MiB - 512 * KiB });
    expect(carveout.availableBytes).toBe(64 * MiB - 512 * KiB);
  });

  it('answers an upper bound once someone else allocates from the carveout, and still fails cleanly', () => {
    const { carveout, heap } = setup();
    const own = unwrap(heap.allocate(planFor(heap, MiB)));
    unwrap(carveout.alloc(MiB, PAGE_SIZE));
    unwrap(own.free());
    // 63 MiB are free, but in two pieces the heap cannot see: it assumes one.
    expect(heap.largestContiguousFree(NO_LIMIT)).toBe(63 * MiB);
    expect(left(heap.allocate(planFor(heap, 63 * MiB))).code).toBe('ENOMEM');
    // First fit lands past the limit: the block goes straight back.
    expect(
      left(heap.allocate(planFor(heap, 1536 * KiB, { maxAddress: carveout.base + 2 * MiB - 1 }))).code,
    ).toBe('ENOMEM');
    expect(carveout.availableBytes).toBe(63 * MiB);
  });

  it('is protected only when configured so; the planner then gives it only to attachers that ask for protected memory', () => {
    const { p, heap } = setup(true);
    const system = new SystemHeap(p);
    expect(heap.protected).toBe(true);
    const plain = unwrap(
      planBacking(MiB, combineConstraints([unconstrainedAttacher('cpu')]), [system, heap]),
    );
    expect(plain.heap).toBe('system');
    const secure = { ...unconstrainedAttacher('decoder'), protected: true };
    const plan = unwrap(planBacking(MiB, combineConstraints([secure]), [system, heap]));
    expect(plan.heap).toBe('carveout');
    expect(unwrap(heap.allocate(plan)).runs).toHaveLength(1);
  });
});

describe('Backing', () => {
  it('frees once: a second free is EINVAL and frees nothing', () => {
    const p = new Platform();
    const heap = new SystemHeap(p);
    const start = p.pages.freePageCount();
    const b = unwrap(heap.allocate(planFor(heap, MiB + 64 * KiB)));
    unwrap(b.free());
    expect(b.freed).toBe(true);
    expect(p.pages.freePageCount()).toBe(start);
    unwrap(p.pages.allocPages(8));
    const e = left(b.free());
    expect(e.code).toBe('EINVAL');
    expect(p.pages.freePageCount()).toBe(start - 256);
  });

  it('refuses with EBUSY, freeing nothing, while a page is pinned; frees everything once unpinned', () => {
    const p = new Platform();
    const heap = new SystemHeap(p);
    const start = p.pages.freePageCount();
    const b = unwrap(heap.allocate(planFor(heap, MiB + 4 * KiB)));
    const tail = (b.runs[1]?.phys ?? 0) / PAGE_SIZE;
    unwrap(p.pages.pages.pin(tail));
    const e = left(b.free());
    expect(e.code).toBe('EBUSY');
    expect(e.detail).toMatchObject({ heap: 'system', pfn: tail });
    expect(p.pages.freePageCount()).toBe(start - 257);
    expect(b.freed).toBe(false);
    unwrap(p.pages.pages.unpin(tail));
    unwrap(b.free());
    expect(p.pages.freePageCount()).toBe(start);
  });

  it('returns CMA and carveout blocks to their regions, and refuses a CMA page still referenced', () => {
    const p = new Platform();
    const heaps = defaultHeaps(p);
    const cma = unwrap(heaps.get('reserved'));
    const carve = unwrap(heaps.get('carveout'));
    const a = unwrap(cma.allocate(planFor(cma, MiB)));
    const c = unwrap(carve.allocate(planFor(carve, MiB)));
    const pfn = (a.runs[0]?.phys ?? 0) / PAGE_SIZE;
    unwrap(p.pages.pages.getPage(pfn + 3));
    expect(left(a.free()).code).toBe('EBUSY');
    unwrap(p.pages.pages.putPage(pfn + 3));
    unwrap(a.free());
    unwrap(c.free());
    expect(p.defaultCma?.usedPages).toBe(0);
    expect(p.carveouts.get('carveout')?.availableBytes).toBe(64 * MiB);
  });

  it('announces heap-alloc and heap-free on the heap bus', () => {
    const bus = new EventBus<HeapEvents>('dma-heap');
    const seen: unknown[] = [];
    bus.tap((_source, type, payload) => seen.push({ type, ...payload }));
    const heap = new SystemHeap(new Platform(), { bus });
    const b = unwrap(heap.allocate(planFor(heap, MiB + 4 * KiB, { maxAddress: 2 ** 32 - 1 })));
    unwrap(b.free());
    expect(seen).toEqual([
      { type: 'heap-alloc', heap: 'system', size: MiB + 4 * KiB, runs: 2, maxAddress: 2 ** 32 - 1 },
      { type: 'heap-free', heap: 'system', size: MiB + 4 * KiB, runs: 2 },
    ]);
  });
});

describe('HeapRegistry', () => {
  it('refuses a heap without a name or with a registered name (EINVAL, dma_heap_add in drivers/dma-buf/dma-heap.c)', () => {
    const p = new Platform();
    const registry = new HeapRegistry();
    unwrap(registry.add(new SystemHeap(p)));
    expect(left(registry.add(new SystemHeap(p))).code).toBe('EINVAL');
    expect(left(registry.add(new SystemHeap(p, { name: '' }))).code).toBe('EINVAL');
    expect(registry.list().map((h) => h.name)).toEqual(['system']);
    const missing = left(registry.get('linux,cma'));
    expect(missing.code).toBe('ENOENT');
    expect(missing.detail).toMatchObject({ known: ['system'] });
  });

  it('boots the system heap, one CMA heap per region and one carveout heap per carveout, named after them', () => {
    const p = new Platform();
    const events: string[] = [];
    const bus = new EventBus<HeapEvents>('dma-heap');
    bus.on('heap-add', (e) => events.push(`${e.kind}:${e.heap}`));
    const registry = defaultHeaps(p, bus);
    expect(registry.list().map((h) => [h.name, h.kind, h.physicallyContiguous, h.protected])).toEqual([
      ['system', 'system', false, false],
      ['reserved', 'cma', true, false],
      ['carveout', 'carveout', true, false],
    ]);
    expect(events).toEqual(['system:system', 'cma:reserved', 'carveout:carveout']);
    expect(registry.list().every((h) => h.bus === bus)).toBe(true);
    const system = unwrap(registry.get('system'));
    expect([system.minAddress, system.maxAddress]).toEqual([0, 8 * 2 ** 30 - 1]);
    expect(system.chunkSizes).toEqual([MiB, 64 * KiB, 4 * KiB]);
  });
});
