import { EventBus, fail, type KResult, ok } from '@sharedbuf/platform';
import type { DmaHeap } from './dma-heap.js';
import type { HeapEvents } from './heap-events.js';

const OK: KResult<void> = ok(undefined);

/**
 * The heaps of a machine by name: `dma-heap.c`'s `heap_list`, which `/dev/dma_heap/<name>` exposes.
 * `list()` is what the planner takes as its heap offer.
 */
export class HeapRegistry {
  private readonly heaps = new Map<string, DmaHeap>();

  /** @param bus where `heap-add` is announced; give the heaps the same one. */
  constructor(readonly bus: EventBus<HeapEvents> = new EventBus<HeapEvents>('dma-heap')) {}

  /**
   * `dma_heap_add`: registers a heap under its name.
   *
   * Errors: EINVAL when the name is empty ("Cannot add heap without a name") or already registered
   * ("Already registered heap named …"). A failed call registers nothing.
   */
  add(heap: DmaHeap): KResult<void> {
    if (heap.name === '') return fail('EINVAL', 'cannot add a dma-buf heap without a name', { heap: '' });
    if (this.heaps.has(heap.name)) {
      return fail('EINVAL', `a dma-buf heap named '${heap.name}' is already registered`, { heap: heap.name });
    }
    this.heaps.set(heap.name, heap);
    if (this.bus.active) this.bus.emit('heap-add', { heap: heap.name, kind: heap.kind });
    return OK;
  }

  /**
   * `dma_heap_find`: the heap registered under `name`. ENOENT when there is none (as opening a
   * missing `/dev/dma_heap/<name>` fails), with the registered names in detail.
   */
  get(name: string): KResult<DmaHeap> {
    const heap = this.heaps.get(name);
    if (heap !== undefined) return ok(heap);
    const known = [...this.heaps.keys()];
    return fail('ENOENT', `no dma-buf heap is named '${name}' (heaps: ${known.join(', ') || 'none'})`, {
      heap: name,
      known,
    });
  }

  /** Every heap, in registration order. */
  list(): DmaHeap[] {
    return [...this.heaps.values()];
  }
}
