import {
  EventBus,
  fail,
  hex,
  ilog2,
  isPow2,
  type KResult,
  ok,
  PAGE_SIZE,
  type PageAllocator,
  type PageMetadata,
  type Platform,
  pow2,
  unwrap,
} from '@sharedbuf/platform';
import type { BackingPlan } from '../constraints/backing-plan.js';
import type { FreeRange } from '../constraints/described-heap.js';
import { SYSTEM_HEAP_CHUNK_SIZES } from '../constraints/heap-capabilities.js';
import type { PhysRun } from '../constraints/segment-split.js';
import { formatBytes } from '../constraints/units.js';
import { type Backing, handOutBacking } from './backing.js';
import { freeBlocksBelow } from './buddy-queries.js';
import { type DmaHeap, type HeapOptions, heapEnomem, planMismatch } from './dma-heap.js';
import type { HeapEvents } from './heap-events.js';
import { subtractRanges } from './range-set.js';

/** The system heap's page orders, largest first: `orders[] = {8, 4, 0}` of system_heap.c. */
const ORDERS: readonly number[] = SYSTEM_HEAP_CHUNK_SIZES.map((c) => ilog2(c / PAGE_SIZE));
const OK: KResult<void> = ok(undefined);

/** One buddy block of a backing. */
interface Block {
  readonly pfn: number;
  readonly order: number;
}

/** The lowest and highest byte the page allocator manages: RAM minus the reserved regions, whole pages. */
const managedSpan = (platform: Platform): { first: number; last: number } => {
  const ram = [...platform.memory.banks].sort((a, b) => a.base - b.base);
  const reserved = [...platform.config.cma, ...platform.config.carveouts].map((r) => {
    const base = Math.floor(r.base / PAGE_SIZE) * PAGE_SIZE;
    return { base, size: Math.ceil((r.base + r.size) / PAGE_SIZE) * PAGE_SIZE - base };
  });
  const managed: FreeRange[] = subtractRanges(ram, reserved);
  const first = managed[0];
  const last = managed[managed.length - 1];
  if (first === undefined || last === undefined)
    throw new RangeError('system heap: the page allocator manages no memory');
  return { first: first.base, last: last.base + last.size - 1 };
};

/**
 * `alloc_largest_available` (system_heap.c): the largest order that the remaining size fills, that
 * is not above the previous chunk's order, and that the buddy allocator has below the limit. The
 * model adds the plan's floor: no order below it, and a remainder smaller than the floor takes one
 * floor-sized chunk (partly used) instead of smaller ones.
 */
const allocLargestAvailable = (
  pages: PageAllocator,
  want: number,
  maxOrder: number,
  floorOrder: number,
  maxAddress: number,
): Block | undefined => {
  for (const order of ORDERS) {
    if (order > maxOrder || order < floorOrder || want < pow2(order) * PAGE_SIZE) continue;
    const pfn = pages.tryAllocPages(order, maxAddress, true);
    if (pfn >= 0) return { pfn, order };
  }
  return undefined;
};

/** Why a block cannot go back to the buddy allocator now (mirroring `freePages`' refusals), if it cannot. */
const blockBusy = (md: PageMetadata, b: Block): KResult<never> | undefined => {
  const at = `the order-${b.order} block at pfn ${hex(b.pfn)}`;
  if (md.compoundHead(b.pfn) !== b.pfn || md.compoundOrder(b.pfn) !== b.order) {
    return fail('EINVAL', `${at} is no longer allocated as the heap left it (freed behind its back?)`, {
      pfn: b.pfn,
      order: b.order,
    });
  }
  const pincount = md.pincount(b.pfn);
  if (pincount > 0) {
    return fail('EBUSY', `${at} is pinned ${pincount} times: unpin it first`, { pfn: b.pfn, pincount });
  }
  const refcount = md.refcount(b.pfn);
  if (refcount > 1) {
    return fail('EBUSY', `${at} still has ${refcount - 1} other references: drop them with putPage`, {
      pfn: b.pfn,
      refcount,
    });
  }
  return undefined;
};

/**
 * The system heap (drivers/dma-buf/heaps/system_heap.c) over the machine's buddy allocator: buffers
 * of scattered, zeroed chunks of 1 MiB, 64 KiB and 4 KiB (orders 8, 4, 0), largest first, each
 * naturally aligned. The plan adds two things the kernel heap has no notion of: a chunk floor (no
 * chunk smaller, so devices without an IOMMU stay within their segment counts) and an address limit
 * (every chunk at or below it, as a `GFP_DMA32`-style zone limit would).
 *
 * Capabilities are read from the allocator's live free lists, exactly.
 */
export class SystemHeap implements DmaHeap {
  readonly name: string;
  readonly kind = 'system' as const;
  readonly physicallyContiguous = false;
  readonly chunkSizes: readonly number[] = SYSTEM_HEAP_CHUNK_SIZES;
  readonly minAddress: number;
  readonly maxAddress: number;
  readonly protected = false;
  readonly bus: EventBus<HeapEvents>;
  private readonly pages: PageAllocator;
  private readonly topPfn: number;

  /**
   * @param platform the machine; the heap allocates from `platform.pages`.
   * @param options name (default `system`) and bus.
   * @throws RangeError when the page allocator manages no memory (a machine description bug).
   */
  constructor(platform: Platform, options: HeapOptions = {}) {
    this.name = options.name ?? 'system';
    this.bus = options.bus ?? new EventBus<HeapEvents>('dma-heap');
    this.pages = platform.pages;
    const span = managedSpan(platform);
    this.minAddress = span.first;
    this.maxAddress = span.last;
    this.topPfn = (span.last + 1) / PAGE_SIZE;
  }

  /**
   * The largest chunk the heap could hand out whole at or below `maxAddress`: its largest chunk size
   * that is a multiple of `align` and no larger than the largest free buddy block there. The system
   * heap never gives more than one chunk contiguously, however much adjacent memory is free.
   */
  largestContiguousFree(maxAddress: number, align = PAGE_SIZE): number {
    const order = this.pages.largestFreeOrder(maxAddress);
    if (order < 0) return 0;
    const largest = pow2(order) * PAGE_SIZE;
    return this.chunkSizes.find((c) => c <= largest && c >= align) ?? 0;
  }

  freeBytes(maxAddress: number): number {
    return this.pages.freePageCount(maxAddress) * PAGE_SIZE;
  }

  /** @throws RangeError when `chunkSize` is not a power of two of at least a page (a caller bug). */
  freeChunks(chunkSize: number, maxAddress: number): number {
    if (!isPow2(chunkSize) || chunkSize < PAGE_SIZE) {
      throw new RangeError(`system heap: chunk size ${chunkSize} is not a power of two of at least a page`);
    }
    const limitPfn = Math.floor((maxAddress + 1) / PAGE_SIZE);
    if (!(limitPfn > 0)) return 0;
    return freeBlocksBelow(this.pages, ilog2(chunkSize / PAGE_SIZE), limitPfn, this.topPfn);
  }

  /**
   * `system_heap_allocate`: chunks taken largest first until the plan's size is covered, each
   * zeroed (`__GFP_ZERO`) and at or below `plan.maxAddress`; a high order the allocator lacks falls
   * back to the next (`__GFP_NORETRY`), and once a smaller order is taken larger ones are not tried
   * again. On failure every chunk taken so far is freed (the `free_buffer` path). Errors as
   * {@link DmaHeap.allocate}; ENOMEM detail adds `chunkFloor`, `gathered`, `freeBytes` and
   * `largestFreeBlock`.
   */
  allocate(plan: BackingPlan): KResult<Backing> {
    const bad = planMismatch(this, plan);
    if (bad !== undefined) return bad;
    const floorOrder = ilog2(plan.chunkFloor / PAGE_SIZE);
    const blocks: Block[] = [];
    const runs: PhysRun[] = [];
    let remaining = plan.size;
    let maxOrder = ORDERS[0] as number;
    while (remaining > 0) {
      const block = allocLargestAvailable(
        this.pages,
        Math.max(remaining, plan.chunkFloor),
        maxOrder,
        floorOrder,
        plan.maxAddress,
      );
      if (block === undefined) return this.giveUp(plan, blocks, plan.size - remaining);
      const phys = block.pfn * PAGE_SIZE;
      const bytes = pow2(block.order) * PAGE_SIZE;
      blocks.push(block);
      runs.push({ phys, length: Math.min(remaining, bytes) });
      remaining -= Math.min(remaining, bytes);
      maxOrder = block.order;
    }
    return ok(
      handOutBacking(this.name, runs, plan.size, plan.maxAddress, () => this.release(blocks), this.bus),
    );
  }

  private giveUp(plan: BackingPlan, blocks: readonly Block[], gathered: number): KResult<never> {
    for (const b of blocks) unwrap(this.pages.freePages(b.pfn, b.order));
    const order = this.pages.largestFreeOrder(plan.maxAddress);
    const largestFreeBlock = order < 0 ? 0 : pow2(order) * PAGE_SIZE;
    const freeBytes = this.freeBytes(plan.maxAddress);
    return heapEnomem(
      this.name,
      plan,
      `the buddy allocator ran out of blocks of ${formatBytes(plan.chunkFloor)} or more after ${formatBytes(gathered)} (${formatBytes(freeBytes)} is free there, in blocks of at most ${formatBytes(largestFreeBlock)})`,
      { chunkFloor: plan.chunkFloor, gathered, freeBytes, largestFreeBlock },
    );
  }

  /** All blocks back to the buddy allocator, or none when one of them cannot go. */
  private release(blocks: readonly Block[]): KResult<void> {
    const md = this.pages.pages;
    for (const b of blocks) {
      const busy = blockBusy(md, b);
      if (busy !== undefined) return busy;
    }
    for (const b of blocks) unwrap(this.pages.freePages(b.pfn, b.order));
    return OK;
  }
}
