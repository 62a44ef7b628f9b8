import {
  type ContiguousAllocator,
  EventBus,
  ilog2,
  type KResult,
  ok,
  PAGE_SIZE,
  type PageMetadata,
  type Platform,
  pow2,
} from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { BackingPlan } from '../constraints/backing-plan.js';
import { describeHeap, type FreeRange } from '../constraints/described-heap.js';
import type { HeapCapabilities } from '../constraints/heap-capabilities.js';
import { type Backing, handOutBacking } from './backing.js';
import { type DmaHeap, type HeapOptions, heapEnomem, pageLimit, planMismatch } from './dma-heap.js';
import type { HeapEvents } from './heap-events.js';
import { RegionLedger } from './region-ledger.js';

/** `CONFIG_CMA_ALIGNMENT`'s default: the CMA heap aligns buffers to their size up to order 8 (1 MiB). */
export const CMA_ALIGNMENT = 8;

/** `get_order(size)` for a size in pages: the smallest order whose block holds it. */
const getOrder = (pages: number): number => (pages <= 1 ? 0 : ilog2(pages - 1) + 1);

/** Free pages of `[basePfn, basePfn + count)` by their counters (a free page has none), as ranges. */
const scanFree = (md: PageMetadata, basePfn: number, count: number): FreeRange[] => {
  const out: FreeRange[] = [];
  let start = -1;
  for (let i = 0; i <= count; i++) {
    const free = i < count && md.compoundHead(basePfn + i) < 0;
    if (free && start < 0) start = i;
    else if (!free && start >= 0) {
      out.push({ base: (basePfn + start) * PAGE_SIZE, size: (i - start) * PAGE_SIZE });
      start = -1;
    }
  }
  return out;
};

/**
 * The CMA heap (drivers/dma-buf/heaps/cma_heap.c) over one CMA region: every buffer is one
 * physically contiguous, zeroed run from `cma_alloc`, aligned to its size's order up to
 * {@link CMA_ALIGNMENT}. The heap is named after its region (`cma_get_name`).
 *
 * Capabilities come from the region's free ranges: from the heap's own ledger while it is the
 * region's only user, else from the pages' counters (the region's bitmap is private; a scan costs
 * O(region pages)). Either way they are exact.
 */
export class CmaHeap implements DmaHeap {
  readonly name: string;
  readonly kind = 'cma' as const;
  readonly physicallyContiguous = true;
  readonly chunkSizes: readonly number[] = [];
  readonly minAddress: number;
  readonly maxAddress: number;
  readonly protected = false;
  readonly bus: EventBus<HeapEvents>;
  private readonly md: PageMetadata;
  private readonly ledger = new RegionLedger();

  /**
   * @param platform the machine: its `clearPages` (zeroing through the cache) and its page counters, which
   *   its CMA regions share.
   * @param cma the region to allocate from, one of `platform.cma`.
   * @param options name (default: the region's) and bus.
   */
  constructor(
    private readonly platform: Platform,
    private readonly cma: ContiguousAllocator,
    options: HeapOptions = {},
  ) {
    this.name = options.name ?? cma.name;
    this.bus = options.bus ?? new EventBus<HeapEvents>('dma-heap');
    this.md = platform.pages.pages;
    this.minAddress = cma.base;
    this.maxAddress = cma.base + cma.size - 1;
  }

  largestContiguousFree(maxAddress: number, align = PAGE_SIZE): number {
    return this.view().largestContiguousFree(pageLimit(maxAddress), align);
  }

  freeBytes(maxAddress: number): number {
    return this.view().freeBytes(pageLimit(maxAddress));
  }

  freeChunks(chunkSize: number, maxAddress: number): number {
    return this.view().freeChunks(chunkSize, pageLimit(maxAddress));
  }

  /**
   * `cma_heap_allocate`: one run of the plan's size from `cma_alloc`, memset to zero, at or below
   * `plan.maxAddress`. The kernel aligns it to `min(get_order(size), CONFIG_CMA_ALIGNMENT)`; the
   * model asks for that or the plan's alignment, whichever is larger, and when that fails retries
   * with the plan's own alignment — the one planning checked. Errors as {@link DmaHeap.allocate};
   * ENOMEM detail adds `alignment` and `largestFreeRun` (bytes).
   */
  allocate(plan: BackingPlan): KResult<Backing> {
    const bad = planMismatch(this, plan);
    if (bad !== undefined) return bad;
    const count = plan.size / PAGE_SIZE;
    const planOrder = ilog2(Math.max(plan.alignment, PAGE_SIZE) / PAGE_SIZE);
    const kernelOrder = Math.max(planOrder, Math.min(getOrder(count), CMA_ALIGNMENT));
    const options = { maxAddress: plan.maxAddress };
    let pfn = this.cma.alloc(count, kernelOrder, options);
    if (E.isLeft(pfn) && kernelOrder > planOrder) pfn = this.cma.alloc(count, planOrder, options);
    if (E.isLeft(pfn)) {
      return heapEnomem(this.name, plan, pfn.left.message, {
        alignment: pow2(planOrder) * PAGE_SIZE,
        largestFreeRun: this.cma.largestFreeRun(plan.maxAddress) * PAGE_SIZE,
      });
    }
    const first = pfn.right;
    const phys = first * PAGE_SIZE;
    this.platform.clearPages(phys, plan.size);
    this.ledger.add(phys, plan.size);
    const release = (): KResult<void> => {
      const r = this.cma.release(first, count);
      if (E.isRight(r)) this.ledger.remove(phys);
      return r;
    };
    return ok(
      handOutBacking(this.name, [{ phys, length: plan.size }], plan.size, plan.maxAddress, release, this.bus),
    );
  }

  private view(): HeapCapabilities {
    const region = { base: this.cma.base, size: this.cma.size };
    const own = this.cma.usedPages * PAGE_SIZE === this.ledger.takenBytes;
    const free = own ? this.ledger.freeIn(region) : scanFree(this.md, this.cma.basePfn, this.cma.pageCount);
    return describeHeap({ name: this.name, kind: this.kind, free, region });
  }
}
