import type { IommuHardware } from './iommu-hardware.js';

const SZ_4K = 0x1000;
const SZ_64K = 0x1_0000;
const SZ_2M = 0x20_0000;
const SZ_1G = 0x4000_0000;

/** Options common to the hardware model factories. */
export interface HardwareOptions {
  readonly name: string;
  readonly iasBits?: number;
  readonly contexts?: number;
  readonly iotlbEntries?: number;
  readonly defaultDomainType?: 'dma' | 'identity';
}

/**
 * An ARM SMMU-like instance shared by many devices (drivers/iommu/arm/arm-smmu-v3): LPAE stage-1
 * tables with 4 KiB pages and 2 MiB / 1 GiB blocks, 48-bit input, context banks, groups, and SVA
 * with 20-bit PASIDs.
 */
export const armSmmu = (o: HardwareOptions): IommuHardware => ({
  name: o.name,
  model: 'arm-smmu',
  pgsizeBitmap: SZ_4K + SZ_2M + SZ_1G,
  iasBits: o.iasBits ?? 48,
  format: 'arm-lpae-s1',
  contexts: o.contexts ?? 128,
  sva: true,
  pasidBits: 20,
  domainTypes: ['blocked', 'identity', 'unmanaged', 'dma', 'sva'],
  defaultDomainType: o.defaultDomainType ?? 'dma',
  maxDevices: Number.POSITIVE_INFINITY,
  switchOnTheFly: false,
  iotlbEntries: o.iotlbEntries ?? 512,
});

/**
 * An MSM-style System MMU (drivers/iommu/msm_iommu.c, seed 001): hard-wired to one device, one
 * context whose page table can be switched on the fly between domains. The real part walks ARMv7
 * short-descriptor tables (4K/64K/1M/16M pages); the model gives it the LPAE walker with a 32-bit
 * input range and 4 KiB / 2 MiB pages, which keeps the behaviour that matters here — one device, one
 * context, switchable tables — and says so.
 */
export const msmIommu = (o: HardwareOptions): IommuHardware => ({
  name: o.name,
  model: 'msm-iommu',
  pgsizeBitmap: SZ_4K + SZ_2M,
  iasBits: o.iasBits ?? 32,
  format: 'arm-lpae-s1',
  contexts: o.contexts ?? 1,
  sva: false,
  pasidBits: 0,
  domainTypes: ['blocked', 'identity', 'unmanaged', 'dma'],
  defaultDomainType: o.defaultDomainType ?? 'dma',
  maxDevices: 1,
  switchOnTheFly: true,
  iotlbEntries: o.iotlbEntries ?? 64,
});

/**
 * A null / no-op backend (seed 003): for devices that need no translation or do no DMA. Every
 * device behind it is a standalone group of one with an identity default domain; it has no page
 * tables, so paging domains cannot attach.
 */
export const nullIommu = (o: HardwareOptions): IommuHardware => ({
  name: o.name,
  model: 'null',
  pgsizeBitmap: SZ_4K,
  iasBits: o.iasBits ?? 52,
  format: 'none',
  contexts: 0,
  sva: false,
  pasidBits: 0,
  domainTypes: ['blocked', 'identity'],
  defaultDomainType: 'identity',
  maxDevices: Number.POSITIVE_INFINITY,
  switchOnTheFly: false,
  iotlbEntries: 0,
});

/** Page sizes in bytes, for building bitmaps. */
export const PAGE_SIZES = { SZ_4K, SZ_64K, SZ_2M, SZ_1G } as const;
