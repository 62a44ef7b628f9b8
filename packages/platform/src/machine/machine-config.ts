import type { ReservedRegion } from '../alloc/reserved-region.js';
import type { CpuCacheConfig } from '../cache/cpu-cache.js';
import type { RamBank } from '../memory/ram-bank.js';
import type { MmLayout } from '../mm/mm-layout.js';

/**
 * The CPU architecture's cache-maintenance policy for streaming DMA (`arch_sync_dma_for_device` /
 * `arch_sync_dma_for_cpu`): on `armv7`, handing a FROM_DEVICE buffer to the device invalidates it
 * (throwing away dirty CPU data); on `armv8`, it cleans, and the invalidate comes when the CPU takes
 * the buffer back. The DMA layer reads it; the platform only carries it.
 */
export type DmaSyncArch = 'armv7' | 'armv8';

/** Describes a machine: RAM banks, reserved regions, the cache, the architecture and the seed. */
export interface MachineConfig {
  /** Seed of the machine's random generator (cache eviction and anything else random). */
  readonly seed: number;
  readonly banks: readonly RamBank[];
  /** CMA regions, taken out of the buddy allocator. */
  readonly cma: readonly ReservedRegion[];
  /** Named carveouts, taken out of the buddy allocator. */
  readonly carveouts: readonly ReservedRegion[];
  readonly cache: CpuCacheConfig;
  readonly arch: DmaSyncArch;
  /** User address-space layout of every process. */
  readonly mmLayout?: Partial<MmLayout>;
}

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/**
 * The default machine: 3 GiB of RAM from 0 with the 32-bit MMIO hole above it, 4 GiB above 4 GiB
 * (so 32-bit DMA limits matter), a 256 MiB CMA region in the bottom gigabyte, and a 64 MiB carveout,
 * on an ARMv8-like CPU.
 */
export const DEFAULT_MACHINE: MachineConfig = {
  seed: 0x5eed_b0f,
  banks: [
    { name: 'dram0', base: 0, size: 3 * GiB },
    { name: 'dram1', base: 4 * GiB, size: 4 * GiB },
  ],
  cma: [{ name: 'reserved', base: 256 * MiB, size: 256 * MiB }],
  carveouts: [{ name: 'carveout', base: 768 * MiB, size: 64 * MiB }],
  cache: { lines: 8192 },
  arch: 'armv8',
};
