import { archSyncForCpu, archSyncForDevice, DmaDirection } from '@sharedbuf/dma-mapping';
import { type KResult, type Mm, ok, PAGE_SIZE, type Platform } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { JobRange } from './gpu-job.js';

type PageOp = (phys: number, length: number, range: JobRange) => KResult<void>;

/**
 * Applies `op` to the physical piece of every present page of `ranges` mapped cached in `mm`. A page
 * not present has nothing to maintain (a page faulted in later is zeroed behind the cache); an
 * uncached or write-combined mapping (a buffer object) never had lines; an unmapped address is left
 * to the SMMU, which will refuse it.
 */
const forEachCachedPage = (mm: Mm, ranges: readonly JobRange[], op: PageOp): KResult<void> => {
  for (const range of ranges) {
    const end = range.va + range.length;
    for (let va = range.va; va < end; ) {
      const pageEnd = Math.min(end, va - (va % PAGE_SIZE) + PAGE_SIZE);
      const vma = mm.findVma(va);
      const pfn = mm.lookup(va);
      if (vma !== undefined && vma.attr === 'cached' && pfn >= 0) {
        const r = op(pfn * PAGE_SIZE + (va % PAGE_SIZE), pageEnd - va, range);
        if (E.isLeft(r)) return r;
      }
      va = pageEnd;
    }
  }
  return ok(undefined);
};

/**
 * Submit-time maintenance for a non-coherent GPU reaching user memory through SVA: what the GPU
 * reads is cleaned so it sees the CPU's stores; what it writes gets the architecture's
 * `FROM_DEVICE` treatment (clean on ARMv8, invalidate on ARMv7), so no dirty line lands on the GPU's
 * results later. SVA memory has no DMA-API mapping to sync, so the driver maintains it by physical
 * page with the architecture's own operations — the explicit cache management, decoupled from
 * mapping, that seed 002 says the IOMMU API lacks.
 */
export const syncUserRangesForDevice = (
  platform: Platform,
  mm: Mm,
  ranges: readonly JobRange[],
): KResult<void> =>
  forEachCachedPage(mm, ranges, (phys, length, range) =>
    archSyncForDevice(
      platform.arch,
      platform.cache,
      phys,
      length,
      range.write ? DmaDirection.FROM_DEVICE : DmaDirection.TO_DEVICE,
    ),
  );

/**
 * Completion-time maintenance: the ranges the GPU wrote are invalidated (edge lines cleaned first),
 * so the process's next loads miss the cache and read the GPU's results from memory.
 */
export const syncUserRangesForCpu = (
  platform: Platform,
  mm: Mm,
  ranges: readonly JobRange[],
): KResult<void> =>
  forEachCachedPage(
    mm,
    ranges.filter((r) => r.write),
    (phys, length) => archSyncForCpu(platform.arch, platform.cache, phys, length, DmaDirection.FROM_DEVICE),
  );
