import * as E from 'fp-ts/lib/Either.js';
import { EventBus, fail, type KResult, ok, PAGE_SIZE, PhysicalMemory } from '../src/index.js';
import {
  type MmCacheAttr,
  type MmCpuAccess,
  type MmEvents,
  type MmLayout,
  type MmPageSource,
  ProcessTable,
} from '../src/mm/index.js';

/**
 * Test doubles for the mm's collaborators: a page source handing out zeroed pages from a range of
 * real physical memory with struct-page-like counters, and a CPU that accesses memory directly.
 */

const OK: KResult<void> = ok(undefined);

/** First pfn handed out: above 4 GiB, so frame addresses exceed 32 bits. */
export const BASE_PFN = 0x10_0000;

/**
 * Order-0 pages with reference and pin counts (a pin holds a reference, as in PageMetadata); a freed
 * page goes back on a LIFO free list.
 */
export class FakePageSource implements MmPageSource {
  private next: number;
  private readonly freeList: number[] = [];
  private readonly refs = new Map<number, number>();
  private readonly pinCounts = new Map<number, number>();
  /** Every pfn freed, in order. */
  readonly freed: number[] = [];

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly limit: number,
  ) {
    this.next = BASE_PFN;
  }

  allocPage(): KResult<number> {
    const pfn = this.freeList.pop() ?? (this.next < BASE_PFN + this.limit ? this.next++ : -1);
    if (pfn < 0) return fail('ENOMEM', 'fake page source: no free page', { limit: this.limit });
    E.getOrElseW((e) => {
      throw new Error(String(e));
    })(this.memory.fill(pfn * PAGE_SIZE, 0, PAGE_SIZE));
    this.refs.set(pfn, 1);
    return ok(pfn);
  }

  putPage(pfn: number): KResult<void> {
    const r = this.refs.get(pfn);
    if (r === undefined) return fail('EINVAL', `put_page on free pfn ${pfn}`);
    if (r - 1 < this.pincount(pfn))
      return fail('EINVAL', `put_page would drop a pin's reference on pfn ${pfn}`);
    this.drop(pfn, r);
    return OK;
  }

  pin(pfn: number): KResult<void> {
    const r = this.refs.get(pfn);
    if (r === undefined) return fail('EINVAL', `pin of free pfn ${pfn}`);
    this.refs.set(pfn, r + 1);
    this.pinCounts.set(pfn, this.pincount(pfn) + 1);
    return OK;
  }

  unpin(pfn: number): KResult<void> {
    const p = this.pincount(pfn);
    if (p === 0) return fail('EINVAL', `unpin of unpinned pfn ${pfn}`);
    if (p === 1) this.pinCounts.delete(pfn);
    else this.pinCounts.set(pfn, p - 1);
    this.drop(pfn, this.refs.get(pfn) as number);
    return OK;
  }

  private drop(pfn: number, refs: number): void {
    if (refs > 1) {
      this.refs.set(pfn, refs - 1);
      return;
    }
    this.refs.delete(pfn);
    this.freeList.push(pfn);
    this.freed.push(pfn);
  }

  refcount(pfn: number): number {
    return this.refs.get(pfn) ?? 0;
  }

  pincount(pfn: number): number {
    return this.pinCounts.get(pfn) ?? 0;
  }

  /** Pages currently allocated. */
  get allocated(): number {
    return this.refs.size;
  }

  /** Allocated pfns. */
  allocatedPfns(): number[] {
    return [...this.refs.keys()];
  }
}

/** One CPU access as the fake CPU saw it. */
export interface CpuAccess {
  readonly write: boolean;
  readonly addr: number;
  readonly len: number;
  readonly attr: MmCacheAttr | undefined;
}

/** A CPU without caches: loads and stores go straight to memory; it logs each access. */
export class DirectCpu implements MmCpuAccess {
  readonly log: CpuAccess[] = [];
  logging = false;

  constructor(private readonly memory: PhysicalMemory) {}

  read(addr: number, dst: Uint8Array, dstOff: number, len: number, attr?: MmCacheAttr): KResult<void> {
    if (this.logging) this.log.push({ write: false, addr, len, attr });
    return this.memory.read(addr, dst, dstOff, len);
  }

  write(addr: number, src: Uint8Array, srcOff: number, len: number, attr?: MmCacheAttr): KResult<void> {
    if (this.logging) this.log.push({ write: true, addr, len, attr });
    return this.memory.write(addr, src, srcOff, len);
  }
}

/** 64 MiB of RAM above 4 GiB plus 1 MiB at 0. */
export const newMemory = (): PhysicalMemory =>
  new PhysicalMemory([
    { name: 'low', base: 0, size: 0x10_0000 },
    { name: 'high', base: BASE_PFN * PAGE_SIZE, size: 64 * 1024 * 1024 },
  ]);

/**
 * A small machine with `pages` pages for anonymous memory. Property runs pass one shared `memory`:
 * each PhysicalMemory commits a 32 MiB slab on first write, and the page source zeroes what it hands out.
 */
export const machine = (
  opts: { pages?: number; layout?: Partial<MmLayout>; memory?: PhysicalMemory } = {},
) => {
  const memory = opts.memory ?? newMemory();
  const pages = new FakePageSource(memory, opts.pages ?? 1024);
  const cpu = new DirectCpu(memory);
  const bus = new EventBus<MmEvents>('mm');
  const table = new ProcessTable({ pages, cpu, bus, layout: opts.layout });
  return { memory, pages, cpu, bus, table };
};

/** The errno of a Left, or 'ok'. */
export const codeOf = (r: KResult<unknown>): string => (E.isLeft(r) ? r.left.code : 'ok');

/** Bytes 0..n-1 offset by `seed`, a recognisable pattern. */
export const pattern = (n: number, seed = 1): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i + seed) & 0xff);
