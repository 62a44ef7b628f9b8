import type { CpuCache, DmaSyncArch, KResult } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { DmaDirection } from '../debug/direction.js';

const LINE = 64;

/**
 * The CPU's cache maintenance for streaming DMA on a non-coherent device, as the architecture does
 * it (`arch_sync_dma_for_device` / `arch_sync_dma_for_cpu`):
 *
 * - `armv7` (arch/arm/mm/dma-mapping.c, `v7_dma_map_area` / `v7_dma_unmap_area`): to the device,
 *   FROM_DEVICE *invalidates* — dirty CPU data inside the buffer is thrown away (seed 002's
 *   destructive sync) — and other directions clean; back to the CPU, everything but TO_DEVICE
 *   invalidates.
 * - `armv8` (arch/arm64/mm/dma-mapping.c): to the device, always clean; back to the CPU, everything
 *   but TO_DEVICE invalidates.
 *
 * Invalidation cleans+invalidates partial lines at the buffer's edges first (`v7_dma_inv_range`,
 * `dcache_inval_poc`), so bytes that share a line with the buffer survive; whole lines inside are
 * dropped, dirty or not, and the cache reports what was lost.
 */
export const archSyncForDevice = (
  arch: DmaSyncArch,
  cache: CpuCache,
  phys: number,
  size: number,
  dir: DmaDirection,
): KResult<void> =>
  arch === 'armv7' && dir === DmaDirection.FROM_DEVICE
    ? invalidateRange(cache, phys, size)
    : cache.clean(phys, size);

/** See {@link archSyncForDevice}: the maintenance when the CPU takes the buffer back. */
export const archSyncForCpu = (
  _arch: DmaSyncArch,
  cache: CpuCache,
  phys: number,
  size: number,
  dir: DmaDirection,
): KResult<void> =>
  dir === DmaDirection.TO_DEVICE ? E.right(undefined) : invalidateRange(cache, phys, size);

/** Invalidate with the edges cleaned first: the kernel's DMA invalidate of a buffer. */
const invalidateRange = (cache: CpuCache, phys: number, size: number): KResult<void> => {
  if (size <= 0) return E.right(undefined);
  const end = phys + size;
  const headLine = phys - (phys % LINE);
  const tailLine = end - (end % LINE);
  const headPartial = phys % LINE !== 0;
  const tailPartial = end % LINE !== 0 && !(headPartial && tailLine === headLine);
  if (headPartial) {
    const r = cache.cleanInvalidate(phys, Math.min(end, headLine + LINE) - phys);
    if (E.isLeft(r)) return r;
  }
  if (tailPartial) {
    const r = cache.cleanInvalidate(tailLine, end - tailLine);
    if (E.isLeft(r)) return r;
  }
  const innerStart = headPartial ? headLine + LINE : phys;
  return tailLine > innerStart ? cache.invalidate(innerStart, tailLine - innerStart) : E.right(undefined);
};
