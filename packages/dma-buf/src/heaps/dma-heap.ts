import { type EventBus, fail, isPow2, type KResult, PAGE_SIZE } from '@sharedbuf/platform';
import type { BackingPlan } from '../constraints/backing-plan.js';
import type { HeapCapabilities } from '../constraints/heap-capabilities.js';
import { formatBytes, formatLimit } from '../constraints/units.js';
import type { Backing } from './backing.js';
import type { HeapEvents } from './heap-events.js';

/**
 * A dma-buf heap (`struct dma_heap` with its `dma_heap_ops`, drivers/dma-buf/dma-heap.c): a named
 * source of buffer memory that answers the planner's questions from its allocator's live state and
 * allocates the backing a {@link BackingPlan} chose.
 */
export interface DmaHeap extends HeapCapabilities {
  /** Where `heap-alloc` and `heap-free` are announced. */
  readonly bus: EventBus<HeapEvents>;
  /**
   * `dma_heap_ops.allocate`, steered by a plan: memory as the plan describes it, zeroed, every byte
   * at or below `plan.maxAddress`. All or nothing: a failure leaves nothing allocated.
   *
   * Errors: EINVAL when the plan is for another heap or another kind of backing, or its size is not
   * a positive whole number of pages (`dma_heap_buffer_alloc`); ENOMEM when the allocator cannot
   * supply it now, with detail `{heap, size, maxAddress, …}` saying what was available.
   */
  allocate(plan: BackingPlan): KResult<Backing>;
}

/** Options every heap constructor takes. */
export interface HeapOptions {
  /** The heap's name, as `/dev/dma_heap/<name>`; each heap kind has its own default. */
  readonly name?: string | undefined;
  /** The bus for heap events; a new `dma-heap` bus by default. */
  readonly bus?: EventBus<HeapEvents> | undefined;
}

const invalid = (heap: HeapCapabilities, plan: BackingPlan, why: string): KResult<never> =>
  fail('EINVAL', `heap '${heap.name}' cannot allocate by this plan: ${why}`, {
    heap: heap.name,
    planHeap: plan.heap,
    size: plan.size,
    chunkFloor: plan.chunkFloor,
  });

/**
 * Why `heap` cannot allocate by `plan` at all, or `undefined` when it can try: the plan must name
 * this heap, a page-multiple size, a limit, and a layout of the heap's kind (a chunk floor among
 * its chunk sizes when it scatters, one aligned block when it is contiguous).
 * @internal for the heaps of this folder.
 */
export const planMismatch = (heap: HeapCapabilities, plan: BackingPlan): KResult<never> | undefined => {
  if (plan.heap !== heap.name) return invalid(heap, plan, `the plan is for heap '${plan.heap}'`);
  if (!Number.isSafeInteger(plan.size) || plan.size <= 0 || plan.size % PAGE_SIZE !== 0) {
    return invalid(heap, plan, `its size ${plan.size} is not a positive whole number of pages`);
  }
  if (!(plan.maxAddress >= 0)) return invalid(heap, plan, `its limit ${plan.maxAddress} is not an address`);
  if (heap.physicallyContiguous) {
    if (plan.chunkFloor !== 0) return invalid(heap, plan, 'it scatters chunks, and this heap is contiguous');
    if (!isPow2(plan.alignment))
      return invalid(heap, plan, `its alignment ${plan.alignment} is not a power of two`);
  } else if (!heap.chunkSizes.includes(plan.chunkFloor)) {
    return invalid(heap, plan, `its chunk floor ${plan.chunkFloor} is not one of this heap's chunk sizes`);
  }
  return undefined;
};

/**
 * The ENOMEM of a heap allocation: the buffer, the limit, why, and what the allocator had.
 * @internal for the heaps of this folder.
 */
export const heapEnomem = (
  heap: string,
  plan: BackingPlan,
  why: string,
  available: Readonly<Record<string, unknown>>,
): KResult<never> =>
  fail(
    'ENOMEM',
    `heap '${heap}' cannot allocate ${formatBytes(plan.size)} at or below ${formatLimit(plan.maxAddress)}: ${why}`,
    { heap, size: plan.size, maxAddress: plan.maxAddress, ...available },
  );

/**
 * `maxAddress` lowered to the last byte of the last whole page at or below it: heaps hand out whole
 * pages, so a page the limit cuts is not free for them.
 * @internal for the heaps of this folder.
 */
export const pageLimit = (maxAddress: number): number =>
  Math.floor((maxAddress + 1) / PAGE_SIZE) * PAGE_SIZE - 1;
