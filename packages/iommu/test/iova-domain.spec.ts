import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  IOVA_MAG_SIZE,
  IOVA_RANGE_CACHE_MAX_SIZE,
  IovaDomain,
  type IovaRange,
  MAX_GLOBAL_MAGS,
} from '../src/iova/index.js';

const MB_PFNS = 2 ** 20;
const LIMIT32 = MB_PFNS - 1;

const pfnOf = (r: ReturnType<IovaDomain['allocIova']>): number => {
  if (E.isLeft(r)) throw new Error(`${r.left.code}: ${r.left.message}`);
  return r.right;
};

const errorOf = <T>(r: E.Either<{ code: string; detail: Readonly<Record<string, unknown>> }, T>) => {
  if (E.isRight(r)) throw new Error('expected a refusal');
  return r.left;
};

const spans = (d: IovaDomain): [number, number][] => d.ranges().map((r: IovaRange) => [r.pfnLo, r.pfnHi]);

describe('IovaDomain: init_iova_domain (drivers/iommu/iova.c)', () => {
  it('the 32-bit boundary is 2^(32 - log2(granule)) pfns (init_iova_domain)', () => {
    expect(new IovaDomain(4096, 1).dma32BitPfn).toBe(MB_PFNS);
    expect(new IovaDomain(512, 1).dma32BitPfn).toBe(2 ** 23);
    expect(new IovaDomain(65536, 1).dma32BitPfn).toBe(2 ** 16);
  });

  it('a granule that is not a power of two of at least 512 bytes is a set-up bug (BUG_ON in init_iova_domain)', () => {
    expect(() => new IovaDomain(3000, 1)).toThrow(RangeError);
    expect(() => new IovaDomain(256, 1)).toThrow(RangeError);
    expect(() => new IovaDomain(4096, -1)).toThrow(RangeError);
  });

  it('max32_alloc_size starts at the 32-bit boundary (init_iova_domain)', () => {
    expect(new IovaDomain(4096, 1).max32AllocSize).toBe(MB_PFNS);
  });
});

describe('IovaDomain: alloc_iova placement (drivers/iommu/iova.c)', () => {
  it('allocates top-down from the limit, which is inclusive (alloc_iova)', () => {
    const d = new IovaDomain(4096, 1);
    expect(pfnOf(d.allocIova(4, LIMIT32, false))).toBe(LIMIT32 - 3);
    expect(pfnOf(d.allocIova(4, LIMIT32, false))).toBe(LIMIT32 - 7);
    expect(pfnOf(d.allocIova(1, 100, false))).toBe(100);
    expect(pfnOf(d.allocIova(2, 100, false))).toBe(98);
  });

  it('size-aligned ranges start on a multiple of roundup_pow_of_two(size) (__alloc_and_insert_iova_range)', () => {
    const d = new IovaDomain(4096, 1);
    const a = pfnOf(d.allocIova(3, LIMIT32, true));
    expect(a).toBe(MB_PFNS - 4);
    const b = pfnOf(d.allocIova(5, LIMIT32, true));
    expect(b % 8).toBe(0);
    expect(b).toBe(MB_PFNS - 16);
    // The 3 pages freed up above b are skipped by a size-aligned 4: it takes the next aligned slot.
    expect(pfnOf(d.allocIova(4, LIMIT32, true))).toBe(MB_PFNS - 20);
  });

  it('unaligned ranges pack right below the previous one (__alloc_and_insert_iova_range)', () => {
    const d = new IovaDomain(4096, 1);
    expect(pfnOf(d.allocIova(3, LIMIT32, false))).toBe(MB_PFNS - 3);
    expect(pfnOf(d.allocIova(5, LIMIT32, false))).toBe(MB_PFNS - 8);
  });

  it('32-bit limits continue from cached32_node, wider limits from cached_node (__get_cached_rbnode)', () => {
    const d = new IovaDomain(4096, 1);
    expect(pfnOf(d.allocIova(1, 2 * MB_PFNS - 1, false))).toBe(2 * MB_PFNS - 1);
    expect(pfnOf(d.allocIova(1, LIMIT32, false))).toBe(LIMIT32);
    expect(pfnOf(d.allocIova(1, 2 * MB_PFNS - 1, false))).toBe(2 * MB_PFNS - 2);
    expect(pfnOf(d.allocIova(1, LIMIT32, false))).toBe(LIMIT32 - 1);
  });

  it('continues below the cached node even when the new limit is higher (__alloc_and_insert_iova_range)', () => {
    const d = new IovaDomain(4096, 1);
    expect(pfnOf(d.allocIova(1, 1000, false))).toBe(1000);
    expect(pfnOf(d.allocIova(1, LIMIT32, false))).toBe(999);
  });

  it('retries from the limit when nothing fits below the cached node (retry_pfn, iova_find_limit)', () => {
    const d = new IovaDomain(4096, 1);
    expect(E.isRight(d.reserveIova(1, 999))).toBe(true);
    expect(pfnOf(d.allocIova(1, 1000, false))).toBe(1000);
    expect(pfnOf(d.allocIova(1, LIMIT32, false))).toBe(LIMIT32);
  });

  it('pfn 0 is allocatable when start_pfn is 0 (an extension: Linux callers start at 1 or above)', () => {
    const d = new IovaDomain(4096, 0);
    expect(pfnOf(d.allocIova(1, 0, false))).toBe(0);
    expect(errorOf(d.allocIova(1, 0, false)).code).toBe('ENOMEM');
    expect(d.findIova(0)).toEqual({ pfnLo: 0, pfnHi: 0, inRcache: false });
    expect(E.isRight(d.freeIova(0))).toBe(true);
  });

  it('never hands out a pfn below start_pfn (alloc_iova)', () => {
    const d = new IovaDomain(4096, 16);
    expect(pfnOf(d.allocIova(1, 16, false))).toBe(16);
    expect(errorOf(d.allocIova(1, 15, false)).code).toBe('ENOMEM');
  });

  it('a limit beyond the address space means no limit: it is clamped to the highest pfn', () => {
    const d = new IovaDomain(4096, 1);
    expect(pfnOf(d.allocIova(1, Number.MAX_SAFE_INTEGER, false))).toBe(d.maxPfn);
    expect(d.maxPfn).toBe(2 ** 52 - 1);
  });
});

describe('IovaDomain: max32_alloc_size (drivers/iommu/iova.c)', () => {
  // Granule 2^26: the 32-bit boundary is pfn 64, so the 32-bit space fills quickly.
  const tiny = (): IovaDomain => new IovaDomain(2 ** 26, 1);

  it('a failed search records its size, and as large a 32-bit request is then refused at once (iova32_full)', () => {
    const d = tiny();
    expect(pfnOf(d.allocIova(60, 63, false))).toBe(4);
    const first = errorOf(d.allocIova(10, 63, false));
    expect(first.code).toBe('ENOMEM');
    expect(first.detail.fastRefusal).toBe(false);
    expect(d.max32AllocSize).toBe(10);
    const second = errorOf(d.allocIova(12, 63, false));
    expect(second.detail.fastRefusal).toBe(true);
    expect(pfnOf(d.allocIova(3, 63, false))).toBe(1);
  });

  it('freeing a range that starts below the 32-bit boundary resets it (__cached_rbnode_delete_update)', () => {
    const d = tiny();
    const big = pfnOf(d.allocIova(60, 63, false));
    errorOf(d.allocIova(10, 63, false));
    expect(E.isRight(d.freeIova(big))).toBe(true);
    expect(d.max32AllocSize).toBe(d.dma32BitPfn);
    expect(pfnOf(d.allocIova(10, 63, false))).toBe(54);
  });

  it('a failure at a limit above the 32-bit boundary sets it too, as Linux does (__alloc_and_insert_iova_range)', () => {
    const d = tiny();
    expect(E.isRight(d.reserveIova(1, 200))).toBe(true);
    errorOf(d.allocIova(5, 200, false));
    expect(d.max32AllocSize).toBe(5);
  });

  it('freeing a range above the 32-bit boundary leaves it alone (__cached_rbnode_delete_update)', () => {
    const d = tiny();
    const high = pfnOf(d.allocIova(1, 100, false));
    expect(pfnOf(d.allocIova(63, 63, false))).toBe(1);
    errorOf(d.allocIova(1, 63, false));
    expect(d.max32AllocSize).toBe(1);
    expect(E.isRight(d.freeIova(high))).toBe(true);
    expect(d.max32AllocSize).toBe(1);
  });
});

describe('IovaDomain: find, free and reserve (drivers/iommu/iova.c)', () => {
  it('find_iova returns the range containing a pfn', () => {
    const d = new IovaDomain(4096, 1);
    const a = pfnOf(d.allocIova(8, LIMIT32, true));
    expect(d.findIova(a + 5)).toEqual({ pfnLo: a, pfnHi: a + 7, inRcache: false });
    expect(d.findIova(a - 1)).toBeUndefined();
  });

  it('free_iova frees the range containing any of its pfns (free_iova)', () => {
    const d = new IovaDomain(4096, 1);
    const a = pfnOf(d.allocIova(8, LIMIT32, true));
    expect(E.isRight(d.freeIova(a + 3))).toBe(true);
    expect(d.rangeCount).toBe(0);
  });

  it('freeing a pfn no range contains is ENOENT and changes nothing', () => {
    const d = new IovaDomain(4096, 1);
    pfnOf(d.allocIova(8, LIMIT32, true));
    const before = spans(d);
    const err = errorOf(d.freeIova(5));
    expect(err.code).toBe('ENOENT');
    expect(spans(d)).toEqual(before);
    expect(errorOf(d.freeIova(-1)).code).toBe('EINVAL');
  });

  it('reserve_iova keeps a range from allocation', () => {
    const d = new IovaDomain(4096, 1);
    expect(E.isRight(d.reserveIova(0xff000, LIMIT32))).toBe(true);
    expect(pfnOf(d.allocIova(1, LIMIT32, false))).toBe(0xfefff);
  });

  it('reserve_iova over existing ranges extends them instead of overlapping (reserve_iova, __adjust_overlap_range)', () => {
    const d = new IovaDomain(4096, 1);
    expect(pfnOf(d.allocIovaAt(100, 4))).toBe(100);
    const r = d.reserveIova(98, 110);
    expect(E.isRight(r) && r.right).toEqual({ pfnLo: 104, pfnHi: 110, inRcache: false });
    expect(spans(d)).toEqual([
      [98, 103],
      [104, 110],
    ]);
    const inside = d.reserveIova(99, 101);
    expect(E.isRight(inside) && inside.right).toEqual({ pfnLo: 98, pfnHi: 103, inRcache: false });
    expect(d.rangeCount).toBe(2);
  });

  it('reserve_iova refuses pfns outside the domain (WARN_ON in reserve_iova)', () => {
    const d = new IovaDomain(4096, 1);
    expect(errorOf(d.reserveIova(0, d.maxPfn + 1)).code).toBe('EINVAL');
    expect(errorOf(d.reserveIova(10, 9)).code).toBe('EINVAL');
  });

  it('put_iova_domain drops every range and every cached one (put_iova_domain)', () => {
    const d = new IovaDomain(4096, 1);
    pfnOf(d.allocIova(8, LIMIT32, true));
    const fast = pfnOf(d.allocIovaFast(2, LIMIT32, false));
    expect(E.isRight(d.freeIovaFast(fast, 2))).toBe(true);
    d.putIovaDomain();
    expect(d.rangeCount).toBe(0);
    expect(d.rcacheCount).toBe(0);
    expect(d.max32AllocSize).toBe(d.dma32BitPfn);
    expect(pfnOf(d.allocIova(4, LIMIT32, false))).toBe(LIMIT32 - 3);
  });
});

describe('IovaDomain: refusals', () => {
  it('a size below 1 or a limit that is not a pfn is EINVAL', () => {
    const d = new IovaDomain(4096, 1);
    expect(errorOf(d.allocIova(0, LIMIT32, false)).code).toBe('EINVAL');
    expect(errorOf(d.allocIova(1.5, LIMIT32, false)).code).toBe('EINVAL');
    expect(errorOf(d.allocIova(1, -1, false)).code).toBe('EINVAL');
    expect(errorOf(d.allocIovaFast(0, LIMIT32, true)).code).toBe('EINVAL');
    expect(d.max32AllocSize).toBe(d.dma32BitPfn);
  });

  it('ENOMEM names the size, the limit and the largest free run below it', () => {
    const d = new IovaDomain(4096, 1);
    expect(E.isRight(d.reserveIova(1, 49))).toBe(true);
    expect(E.isRight(d.reserveIova(60, 100))).toBe(true);
    const err = errorOf(d.allocIova(16, 100, false));
    expect(err.code).toBe('ENOMEM');
    expect(err.detail).toMatchObject({ size: 16, limitPfn: 100, largestFreeRange: 10, fastRefusal: false });
    expect(d.largestFreeRange(100)).toBe(10);
  });
});

describe('IovaDomain: allocIovaAt (extension: iova_alloc_at of the 2012 Tegra proposal, never merged)', () => {
  it('places the range exactly where asked', () => {
    const d = new IovaDomain(4096, 0);
    expect(pfnOf(d.allocIovaAt(0, 16))).toBe(0);
    expect(pfnOf(d.allocIovaAt(0x80000, 1))).toBe(0x80000);
    expect(spans(d)).toEqual([
      [0, 15],
      [0x80000, 0x80000],
    ]);
  });

  it('refuses a place that overlaps a range with EEXIST, naming it, and changes nothing', () => {
    const d = new IovaDomain(4096, 1);
    pfnOf(d.allocIovaAt(100, 10));
    const err = errorOf(d.allocIovaAt(105, 20));
    expect(err.code).toBe('EEXIST');
    expect(err.detail.overlaps).toEqual({ pfnLo: 100, pfnHi: 109 });
    expect(spans(d)).toEqual([[100, 109]]);
  });

  it('refuses a place outside [start_pfn, max pfn] or a size below 1 with EINVAL', () => {
    const d = new IovaDomain(4096, 8);
    expect(errorOf(d.allocIovaAt(7, 1)).code).toBe('EINVAL');
    expect(errorOf(d.allocIovaAt(d.maxPfn, 2)).code).toBe('EINVAL');
    expect(errorOf(d.allocIovaAt(100, 0)).code).toBe('EINVAL');
  });

  it('treats ranges parked in the rcaches as free: they are flushed first', () => {
    const d = new IovaDomain(4096, 1);
    const a = pfnOf(d.allocIovaFast(4, LIMIT32, false));
    expect(E.isRight(d.freeIovaFast(a, 4))).toBe(true);
    expect(pfnOf(d.allocIovaAt(a, 4))).toBe(a);
    expect(d.rcacheCount).toBe(0);
  });
});

describe('IovaDomain: rcaches, alloc_iova_fast and free_iova_fast (drivers/iommu/iova.c)', () => {
  it('rounds sizes below 32 pages up to a power of two (alloc_iova_fast)', () => {
    const d = new IovaDomain(4096, 1);
    const a = pfnOf(d.allocIovaFast(3, LIMIT32, false));
    expect(d.findIova(a)).toEqual({ pfnLo: a, pfnHi: a + 3, inRcache: false });
    const b = pfnOf(d.allocIovaFast(33, LIMIT32, false));
    expect(d.findIova(b)).toEqual({ pfnLo: b, pfnHi: b + 32, inRcache: false });
  });

  it('free_iova_fast parks a range and alloc_iova_fast of the same order reuses it (iova_rcache_insert/get)', () => {
    const d = new IovaDomain(4096, 1);
    const a = pfnOf(d.allocIovaFast(4, LIMIT32, false));
    const b = pfnOf(d.allocIovaFast(4, LIMIT32, false));
    expect(E.isRight(d.freeIovaFast(a, 4))).toBe(true);
    expect(E.isRight(d.freeIovaFast(b, 3))).toBe(true);
    expect(d.findIova(b)?.inRcache).toBe(true);
    expect(d.rcacheCount).toBe(2);
    // The most recently parked suitable range comes back first (iova_magazine_pop).
    expect(pfnOf(d.allocIovaFast(4, LIMIT32, false))).toBe(b);
    expect(pfnOf(d.allocIovaFast(3, LIMIT32, false))).toBe(a);
    expect(d.rcacheCount).toBe(0);
  });

  it('a cached range ending above the limit is not handed out (iova_magazine_pop)', () => {
    const d = new IovaDomain(4096, 1);
    const high = pfnOf(d.allocIovaFast(1, LIMIT32, false));
    expect(E.isRight(d.freeIovaFast(high, 1))).toBe(true);
    const low = pfnOf(d.allocIovaFast(1, 1000, false));
    expect(low).toBe(1000);
    expect(d.findIova(high)?.inRcache).toBe(true);
  });

  it(`ranges of 2^(IOVA_RANGE_CACHE_MAX_SIZE - 1) pages and more bypass the rcache (iova_rcache_insert)`, () => {
    const d = new IovaDomain(4096, 1);
    const size = 2 ** (IOVA_RANGE_CACHE_MAX_SIZE - 1) + 1;
    const a = pfnOf(d.allocIovaFast(size, LIMIT32, false));
    expect(E.isRight(d.freeIovaFast(a, size))).toBe(true);
    expect(d.rcacheCount).toBe(0);
    expect(d.rangeCount).toBe(0);
  });

  it('when the tree is full, alloc_iova_fast flushes the rcaches and retries (alloc_iova_fast flush_rcache)', () => {
    const d = new IovaDomain(2 ** 26, 1);
    const parked: number[] = [];
    for (let i = 0; i < 15; i++) parked.push(pfnOf(d.allocIovaFast(4, 63, false)));
    expect(errorOf(d.allocIovaFast(4, 63, false)).code).toBe('ENOMEM');
    for (const pfn of parked) expect(E.isRight(d.freeIovaFast(pfn, 4))).toBe(true);
    // Order 3 needs an 8-page hole: none while the order-2 ranges sit in the cache.
    expect(errorOf(d.allocIovaFast(8, 63, false)).code).toBe('ENOMEM');
    expect(d.rcacheCount).toBe(15);
    expect(pfnOf(d.allocIovaFast(8, 63, true))).toBe(56);
    expect(d.rcacheCount).toBe(0);
  });

  it('loaded and prev magazines fill, then the depot; past MAX_GLOBAL_MAGS the ranges go back to the tree', () => {
    const d = new IovaDomain(4096, 1);
    const total = IOVA_MAG_SIZE * (2 + MAX_GLOBAL_MAGS) + 5;
    const pfns: number[] = [];
    for (let i = 0; i < total; i++) pfns.push(pfnOf(d.allocIovaFast(1, 2 ** 36, false)));
    for (const pfn of pfns) expect(E.isRight(d.freeIovaFast(pfn, 1))).toBe(true);
    // The loaded magazine overflowed once the depot was full: its IOVA_MAG_SIZE ranges were freed.
    expect(d.rcacheCount).toBe(total - IOVA_MAG_SIZE);
    expect(d.rangeCount).toBe(total - IOVA_MAG_SIZE);
    d.flushRcaches();
    expect(d.rangeCount).toBe(0);
  });

  it('free_iova_fast refuses a wrong size (EINVAL), an unknown start or a double free (ENOENT)', () => {
    const d = new IovaDomain(4096, 1);
    const a = pfnOf(d.allocIovaFast(4, LIMIT32, false));
    expect(errorOf(d.freeIovaFast(a, 8)).code).toBe('EINVAL');
    expect(errorOf(d.freeIovaFast(a + 1, 4)).code).toBe('ENOENT');
    expect(E.isRight(d.freeIovaFast(a, 4))).toBe(true);
    expect(errorOf(d.freeIovaFast(a, 4)).code).toBe('ENOENT');
    expect(errorOf(d.freeIova(a)).code).toBe('ENOENT');
  });
});
