import type { DmaFence } from './dma-fence.js';
import { dmaFenceArrayFirst, dmaFenceArrayNext, toDmaFenceArray } from './dma-fence-array.js';
import { dmaFenceChainContained, dmaFenceChainWalk, toDmaFenceChain } from './dma-fence-chain.js';

/** `dma_fence_is_container`: true for arrays and chain links, which a reservation object must not hold. */
export const dmaFenceIsContainer = (fence: DmaFence): boolean =>
  toDmaFenceArray(fence) !== null || toDmaFenceChain(fence) !== null;

/**
 * `dma_fence_unwrap_for_each` (drivers/dma-buf/dma-fence-unwrap.c): the individual fences inside
 * `head`, looking through one level of chain links and, inside each, one level of array. Walking the
 * chain drops links that already signaled, so their fences may be skipped. The yielded fences are
 * borrowed: valid while iterating; take a reference to keep one.
 */
export function* dmaFenceUnwrap(head: DmaFence): Generator<DmaFence, void, undefined> {
  let chain: DmaFence | null = head.get();
  try {
    while (chain !== null) {
      const array = dmaFenceChainContained(chain);
      for (let i = 0, f = dmaFenceArrayFirst(array); f !== null; i += 1, f = dmaFenceArrayNext(array, i)) {
        yield f;
      }
      chain = dmaFenceChainWalk(chain);
    }
  } finally {
    chain?.put();
  }
}
