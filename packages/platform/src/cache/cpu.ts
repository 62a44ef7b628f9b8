import type { KResult } from '../core/kernel-error.js';
import { assertBufferSlice } from './buffer-slice.js';
import type { CacheAttr } from './cache-attr.js';
import type { CpuCache } from './cpu-cache.js';

/**
 * The CPU's load/store path to physical memory. The attribute of the mapping used picks the path:
 * `'cached'` goes through the {@link CpuCache}; `'uncached'` and `'write-combine'` go straight to
 * memory and neither look at nor update cached lines, so a line cached through another mapping of
 * the same memory keeps its (possibly stale or dirty) contents — the mismatched-alias hazard that
 * makes ARM forbid mixing attributes for one page.
 *
 * Accesses by the CPU emit no events (there would be one per load); what they cause in the cache
 * (evictions, spontaneous writebacks) is reported by the cache.
 */
export class Cpu {
  /**
   * Watches every CPU access (e.g. DMA debug, which flags CPU access to a buffer the device owns).
   * Called before the access, with its physical range; undefined by default, at no cost.
   */
  observer: ((addr: number, length: number, write: boolean) => void) | undefined;

  /** @param cache the data cache; its `memory` is the RAM uncached accesses reach. */
  constructor(readonly cache: CpuCache) {}

  /**
   * Loads `length` bytes at physical `addr` into `dst[dstOff…]`. Errors: EFAULT when the range
   * touches a hole (nothing read, nothing cached). @throws RangeError on an invalid buffer slice.
   */
  read(
    addr: number,
    dst: Uint8Array,
    dstOff: number,
    length: number,
    attr: CacheAttr = 'cached',
  ): KResult<void> {
    this.observer?.(addr, length, false);
    if (attr === 'cached') return this.cache.read(addr, dst, dstOff, length);
    assertBufferSlice('Cpu.read', dst, dstOff, length);
    return this.cache.memory.read(addr, dst, dstOff, length);
  }

  /**
   * Stores `src[srcOff…]` (`length` bytes) at physical `addr`. Errors: EFAULT when the range
   * touches a hole (nothing written). @throws RangeError on an invalid buffer slice.
   */
  write(
    addr: number,
    src: Uint8Array,
    srcOff: number,
    length: number,
    attr: CacheAttr = 'cached',
  ): KResult<void> {
    this.observer?.(addr, length, true);
    if (attr === 'cached') return this.cache.write(addr, src, srcOff, length);
    assertBufferSlice('Cpu.write', src, srcOff, length);
    return this.cache.memory.write(addr, src, srcOff, length);
  }
}
