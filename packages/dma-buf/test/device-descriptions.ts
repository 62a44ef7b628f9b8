import type { DeviceDmaDescription } from '../src/constraints/index.js';

/** `dma_parms` of a description: max segment size, segment boundary mask (0 = none), min_align_mask. */
export const parms = (maxSegmentSize: number, segmentBoundaryMask = 0, minAlignMask = 0) => ({
  maxSegmentSize,
  segmentBoundaryMask,
  minAlignMask,
});

/** An SDHCI host with ADMA2: 128 segments of at most 64 KiB, 32-bit, no IOMMU (drivers/mmc/host/sdhci.c). */
export const sdHost: DeviceDmaDescription = {
  name: 'sd0',
  dmaMaskBits: 32,
  busDmaLimit: 0,
  dmaParms: parms(65536),
  coherent: false,
  behindIommu: false,
  maxSegmentCount: 128,
};

/** A USB host whose transfer descriptors must not cross 64 KiB. */
export const usbHost: DeviceDmaDescription = {
  name: 'usb0',
  dmaMaskBits: 64,
  busDmaLimit: 0,
  dmaParms: parms(65536, 0xffff),
  coherent: true,
  behindIommu: false,
};

/** A codec that only drives 32 address bits, with a 4 KiB min_align_mask. */
export const codec32: DeviceDmaDescription = {
  name: 'codec32',
  dmaMaskBits: 32,
  busDmaLimit: 0,
  dmaParms: parms(0xffffffff, 0, 0xfff),
  coherent: true,
  behindIommu: false,
};

/** A codec whose interconnect stops at 0xddc00000, not at a power of two. */
export const codecDdc: DeviceDmaDescription = {
  ...codec32,
  name: 'codecDdc',
  busDmaLimit: 0xddc00000,
  dmaParms: parms(0xffffffff),
};

/** A scanout engine: one contiguous range in the bottom 1 GiB, never bounced. */
export const display: DeviceDmaDescription = {
  name: 'display0',
  dmaMaskBits: 30,
  busDmaLimit: 0,
  dmaParms: parms(0xffffffff),
  coherent: false,
  behindIommu: false,
  needsContiguous: true,
  acceptsBounce: false,
};

/** A GPU behind an SMMU with a 40-bit aperture. */
export const gpu: DeviceDmaDescription = {
  name: 'gpu0',
  dmaMaskBits: 48,
  busDmaLimit: 0,
  dmaParms: parms(0xffffffff),
  coherent: true,
  behindIommu: true,
  iommuAperture: { start: 0, end: 2 ** 40 - 1 },
};
