import { MAX_PAGE_ORDER, PAGE_SIZE, type PageAllocator, pow2 } from '@sharedbuf/platform';

/** First pfn of ZONE_NORMAL: ZONE_DMA32 ends at 4 GiB, as the page allocator splits it. */
const DMA32_END_PFN = 2 ** 20;

/** Free pages lying wholly below pfn `end`. */
const freeBelow = (pages: PageAllocator, end: number): number =>
  end <= 0 ? 0 : pages.freePageCount(end * PAGE_SIZE - 1);

/**
 * Fully free windows of `w` pages, `w`-aligned, in `[a, b)` (multiples of `w`), given the free page
 * counts below `a` and `b`. A window is fully free exactly when its free page count is `w`, and the
 * buddy allocator merges free buddies eagerly, so such a window lies inside one free block: it is a
 * block `alloc_pages` could hand out. Halving only the windows that are partly free keeps the number
 * of `freePageCount` calls proportional to the free/used boundaries, not to the memory size.
 */
const fullWindows = (
  pages: PageAllocator,
  w: number,
  a: number,
  b: number,
  fa: number,
  fb: number,
): number => {
  const free = fb - fa;
  if (free === 0) return 0;
  if (free === b - a) return (b - a) / w;
  if (b - a === w) return 0;
  const mid = a + Math.floor((b - a) / w / 2) * w;
  const fm = freeBelow(pages, mid);
  return fullWindows(pages, w, a, mid, fa, fm) + fullWindows(pages, w, mid, b, fm, fb);
};

const windowsIn = (pages: PageAllocator, w: number, lo: number, hi: number): number => {
  const a = Math.ceil(lo / w) * w;
  const b = Math.floor(hi / w) * w;
  return b > a ? fullWindows(pages, w, a, b, freeBelow(pages, a), freeBelow(pages, b)) : 0;
};

/** Blocks of `order` held by one zone's free lists: each free block of order k ≥ order holds 2^(k − order). */
const listedBlocks = (free: readonly number[], order: number): number => {
  let n = 0;
  for (let k = order; k < free.length; k++) n += (free[k] as number) * pow2(k - order);
  return n;
};

/**
 * How many naturally aligned free blocks of 2^order pages lie wholly below pfn `limitPfn`, from the
 * buddy allocator's public queries (exact). Zones wholly below the limit are read off `buddyInfo()`
 * (`/proc/buddyinfo`) in O(orders); a zone the limit cuts is probed with `freePageCount`, because
 * `PageAllocator` has no per-order count below an address. `topPfn` is one past the highest page
 * the allocator manages.
 * @internal for the system heap.
 */
export const freeBlocksBelow = (
  pages: PageAllocator,
  order: number,
  limitPfn: number,
  topPfn: number,
): number => {
  const w = pow2(order);
  if (order > MAX_PAGE_ORDER) return windowsIn(pages, w, 0, limitPfn);
  const zones = pages.buddyInfo();
  if (limitPfn >= topPfn) return zones.reduce((n, z) => n + listedBlocks(z.free, order), 0);
  const dma32 = zones.find((z) => z.zone === 'DMA32');
  if (limitPfn < DMA32_END_PFN || dma32 === undefined) return windowsIn(pages, w, 0, limitPfn);
  return listedBlocks(dma32.free, order) + windowsIn(pages, w, DMA32_END_PFN, limitPfn);
};
