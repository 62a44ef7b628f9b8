import type { KResult } from '../core/kernel-error.js';

/**
 * The memory type a user mapping gives the CPU: the `pgprot_*` cache attribute of its page-table
 * entries. Structurally identical to the cache layer's `CacheAttr`, which this folder does not import.
 */
export type MmCacheAttr = 'cached' | 'uncached' | 'write-combine';

/**
 * What the mm needs from the CPU: loads and stores at physical addresses with a memory type. A user
 * access is translated through the process page table, then performed here, so the data passes
 * through the CPU caches exactly as a user-space load or store would. The platform's `Cpu` satisfies
 * this interface as it is.
 */
export interface MmCpuAccess {
  /** Loads `len` bytes at physical `addr` into `dst[dstOff…]`. */
  read(addr: number, dst: Uint8Array, dstOff: number, len: number, attr?: MmCacheAttr): KResult<void>;
  /** Stores `len` bytes of `src[srcOff…]` at physical `addr`. */
  write(addr: number, src: Uint8Array, srcOff: number, len: number, attr?: MmCacheAttr): KResult<void>;
}
