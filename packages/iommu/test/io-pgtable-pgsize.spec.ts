import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { ARM_LPAE_S1_PGSIZE_BITMAP, iommuPgsize } from '../src/io-pgtable/index.js';

const SZ_4K = 4096;
const SZ_2M = 2 ** 21;
const SZ_1G = 2 ** 30;
const ARM = ARM_LPAE_S1_PGSIZE_BITMAP;

describe('iommuPgsize — iommu_pgsize() (drivers/iommu/iommu.c)', () => {
  it.each([
    ['one page', 0, 0, SZ_4K, SZ_4K, 1],
    ['the largest size that fits the length', 0, 0, 4 * 2 ** 20, SZ_2M, 2],
    [
      'alignment limits the page size, and the run stops at the next 2M boundary',
      SZ_4K,
      SZ_4K,
      4 << 20,
      SZ_4K,
      511,
    ],
    ['addresses at different offsets in 2M never reach a 2M page', SZ_4K, 2 * SZ_4K, 4 << 20, SZ_4K, 1024],
    [
      'too short to reach a whole 2M page after the boundary',
      SZ_2M - SZ_4K,
      SZ_2M - SZ_4K,
      2 * SZ_4K,
      SZ_4K,
      2,
    ],
    ['no larger size: the whole length in the largest one', SZ_1G, 3 * SZ_1G, 3 * SZ_1G, SZ_1G, 3],
  ])('%s', (_, iova, paddr, size, pgsize, count) => {
    expect(iommuPgsize(ARM, iova, paddr, size)).toEqual({ pgsize, count });
  });

  it('reads bitmap bits above 31 exactly (no 32-bit truncation)', () => {
    const bitmap = SZ_4K + 2 ** 40;
    expect(iommuPgsize(bitmap, 0, 0, 2 ** 41)).toEqual({ pgsize: 2 ** 40, count: 2 });
    expect(iommuPgsize(bitmap, 2 ** 40, 2 ** 41, 2 ** 40)).toEqual({ pgsize: 2 ** 40, count: 1 });
    expect(iommuPgsize(bitmap, 2 ** 40 - SZ_4K, 2 ** 40 - SZ_4K, 2 ** 41)).toEqual({
      pgsize: SZ_4K,
      count: 1,
    });
  });

  it('throws when no page size fits, as the kernel’s BUG_ON(!pgsizes)', () => {
    expect(() => iommuPgsize(ARM, 0, 0, 2048)).toThrow(RangeError);
    expect(() => iommuPgsize(ARM, 0x800, 0, SZ_4K)).toThrow(RangeError);
  });

  const aligned = (max: number) => fc.integer({ min: 0, max }).map((n) => n * SZ_4K);

  fcTest.prop([
    aligned(2 ** 24),
    aligned(2 ** 24),
    fc.integer({ min: 1, max: 2 ** 20 }).map((n) => n * SZ_4K),
  ])(
    'the __iommu_map loop covers the length exactly with aligned, supported, largest-possible steps',
    (iova0, paddr0, size) => {
      let iova = iova0;
      let paddr = paddr0;
      let left = size;
      while (left > 0) {
        const { pgsize, count } = iommuPgsize(ARM, iova, paddr, left);
        expect([SZ_4K, SZ_2M, SZ_1G]).toContain(pgsize);
        expect(count).toBeGreaterThanOrEqual(1);
        expect(iova % pgsize).toBe(0);
        expect(paddr % pgsize).toBe(0);
        expect(pgsize * count).toBeLessThanOrEqual(left);
        // Largest possible: the next size up would not fit or not be aligned.
        const bigger = pgsize === SZ_4K ? SZ_2M : pgsize === SZ_2M ? SZ_1G : 0;
        if (bigger) expect(bigger > left || iova % bigger !== 0 || paddr % bigger !== 0).toBe(true);
        iova += pgsize * count;
        paddr += pgsize * count;
        left -= pgsize * count;
      }
      expect(left).toBe(0);
    },
  );
});
