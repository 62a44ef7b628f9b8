import { EventBus, type Platform, unwrap } from '@sharedbuf/platform';
import { CarveoutHeap } from './carveout-heap.js';
import { CmaHeap } from './cma-heap.js';
import type { HeapEvents } from './heap-events.js';
import { HeapRegistry } from './heap-registry.js';
import { SystemHeap } from './system-heap.js';

/**
 * The heaps a machine boots with: the system heap (`system_heap_create`), one CMA heap per CMA
 * region named after it (`__add_cma_heap`: the kernel first added the default region only, recent
 * ones every reserved CMA region) and one carveout heap per carveout, named after it, unprotected.
 * All share `bus`.
 * @throws Error when two of those names collide (a machine description bug).
 */
export const defaultHeaps = (
  platform: Platform,
  bus: EventBus<HeapEvents> = new EventBus<HeapEvents>('dma-heap'),
): HeapRegistry => {
  const registry = new HeapRegistry(bus);
  unwrap(registry.add(new SystemHeap(platform, { bus })));
  for (const cma of platform.cma.values()) unwrap(registry.add(new CmaHeap(platform, cma, { bus })));
  for (const c of platform.carveouts.values()) unwrap(registry.add(new CarveoutHeap(platform, c, { bus })));
  return registry;
};
