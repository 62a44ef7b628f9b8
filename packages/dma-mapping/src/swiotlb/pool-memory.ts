import {
  type Cpu,
  hex,
  ilog2,
  isPow2,
  MAX_PAGE_ORDER,
  PAGE_SIZE,
  type PageAllocator,
  type PhysicalMemory,
  unwrap,
} from '@sharedbuf/platform';
import { IO_TLB_SEGMENT_BYTES } from './io-tlb.js';

/** The machine parts a swiotlb pool needs; a `Platform` is one. */
export interface SwiotlbHost {
  readonly memory: PhysicalMemory;
  /** The CPU whose cached path does the bounce copies. */
  readonly cpu: Cpu;
  /** Where the pool comes from when no base is given. */
  readonly pages: PageAllocator;
}

/** `GFP_DMA32`'s limit: the default pool lies entirely below 4 GiB, like `memblock_alloc_low`. */
const LOW_MEMORY_LIMIT = 0xffff_ffff;

/**
 * Reserves and zeroes the pool's bytes, as `swiotlb_init_remap` / `swiotlb_init_late` and
 * `swiotlb_init_io_tlb_pool` (`memset(vaddr, 0, bytes)`) do (`kernel/dma/swiotlb.c`), and returns its
 * base. Without `base`, the pool is one buddy block below 4 GiB, so `size` must be a power-of-two
 * number of pages of at most a max-order block (4 MiB); a larger pool (Linux's 64 MiB) needs
 * memory the caller reserved — a carveout or CMA range declared in the machine — passed as `base`.
 * Zeroing writes memory directly and drops any line the CPU cache held for the range, so no stale
 * line can be read or written back over the zeros.
 *
 * @throws RangeError for a size that is not a multiple of a segment (256 KiB), a base that is not
 *   page-aligned or not RAM, or a size the page allocator cannot hand out as one block; Error when
 *   no such block is free below 4 GiB. A pool is set up once, at boot: failure is a set-up problem.
 */
export const reservePoolMemory = (host: SwiotlbHost, size: number, base: number | undefined): number => {
  if (!Number.isSafeInteger(size) || size <= 0 || size % IO_TLB_SEGMENT_BYTES !== 0) {
    throw new RangeError(
      `swiotlb: pool size ${size} is not a positive multiple of ${IO_TLB_SEGMENT_BYTES} bytes`,
    );
  }
  const start = base ?? allocLowBlock(host.pages, size);
  if (!Number.isSafeInteger(start) || start < 0 || start % PAGE_SIZE !== 0) {
    throw new RangeError(`swiotlb: pool base ${start} is not a page-aligned physical address`);
  }
  if (!host.memory.isRam(start, size)) {
    throw new RangeError(`swiotlb: pool ${hex(start)}+${hex(size)} is not entirely RAM`);
  }
  // A pool from the allocator comes zeroed through the cache; a reserved range is cleared here.
  if (base !== undefined) {
    unwrap(host.memory.fill(start, 0, size));
    unwrap(host.cpu.cache.discard(start, size));
  }
  return start;
};

const allocLowBlock = (pages: PageAllocator, size: number): number => {
  const npages = size / PAGE_SIZE;
  if (!isPow2(npages) || ilog2(npages) > MAX_PAGE_ORDER) {
    throw new RangeError(
      `swiotlb: a ${size}-byte pool is not one buddy block (a power of two up to ` +
        `${PAGE_SIZE * 2 ** MAX_PAGE_ORDER} bytes): reserve the memory and pass its base`,
    );
  }
  const pfn = pages.allocPages(ilog2(npages), { maxAddress: LOW_MEMORY_LIMIT, zeroed: true });
  return unwrap(pfn) * PAGE_SIZE;
};
