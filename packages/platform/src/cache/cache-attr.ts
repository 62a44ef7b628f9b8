/**
 * How a CPU mapping caches memory, as the page attributes `pgprot_noncached` / `pgprot_writecombine`
 * select (`arch/arm64/include/asm/pgtable.h`):
 * - `'cached'`: normal write-back memory, every access goes through the {@link CpuCache};
 * - `'uncached'`: device/non-cacheable memory, every access goes straight to RAM;
 * - `'write-combine'`: normal non-cacheable memory; stores may be merged on the way, but they
 *   reach RAM without allocating cache lines, so it is modelled exactly as `'uncached'`.
 *
 * Neither non-cached attribute looks up or updates the cache: a line cached through another
 * (cached) alias of the same memory stays as it is, stale or dirty, as on real hardware.
 */
export type CacheAttr = 'cached' | 'uncached' | 'write-combine';
