import { DmaDirection, DmaMapping, type SgTable, Swiotlb, sgDmaSegments } from '@sharedbuf/dma-mapping';
import { armSmmu, IommuCore, pageAllocatorTables } from '@sharedbuf/iommu';
import { type Device, type DeviceConfig, Platform, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { DmaBufCore } from '../src/index.js';

/** The default machine with an SMMU, swiotlb, the DMA API (debug on) and the dma-buf core. */
export const bufMachine = (opts: { swiotlb?: boolean } = {}) => {
  const platform = new Platform();
  const iommu = new IommuCore({
    memory: platform.memory,
    tables: pageAllocatorTables(platform.pages),
  });
  unwrap(iommu.registerHardware(armSmmu({ name: 'smmu0' })));
  const swiotlb = opts.swiotlb === false ? undefined : new Swiotlb(platform);
  const dma = new DmaMapping({ platform, iommu, ...(swiotlb ? { swiotlb } : {}) });
  const core = new DmaBufCore({ platform, dma, iommu });
  let sid = 0;
  const device = (config: DeviceConfig, behindIommu = false): Device => {
    const dev = unwrap(platform.devices.add(config));
    if (behindIommu) unwrap(iommu.probeDevice(dev, { instance: 'smmu0', streamId: sid++ }));
    return dev;
  };
  return { platform, iommu, dma, core, device };
};

/** Published limits of real devices, as this model's device configs. */
export const realDevices = {
  /** An SD host controller: 64 KiB segments, 128 of them, no IOMMU (sdhci: max_seg_size 64 KiB, max_segs 128). */
  sdhci: { name: 'sdhci', dmaMask: 32, dmaParms: { maxSegmentSize: 0x1_0000, maxSegmentCount: 128 } },
  /** A USB host whose DMA may not cross 64 KiB (ehci/ohci-style segment boundary). */
  usb: { name: 'usb', dmaMask: 32, dmaParms: { segmentBoundaryMask: 0xffff } },
  /** A codec that addresses 32 bits only. */
  codec32: { name: 'codec32', dmaMask: 32, dmaParms: { maxSegmentSize: 0x10_0000 } },
  /** A display controller: one contiguous range in the bottom 1 GiB, no scatter-gather. */
  display: { name: 'display', dmaMask: 30, dmaParms: { maxSegmentSize: 0xffff_f000, maxSegmentCount: 1 } },
} satisfies Record<string, DeviceConfig>;

/** The DMA segments of a mapped table. */
export const segments = (sgt: SgTable) => sgDmaSegments(sgt);

/** Reads `n` bytes by DMA as `dev` at `bus`. */
export const devRead = (dev: Device, bus: number, n: number): number[] | string => {
  const b = new Uint8Array(n);
  const r = dev.dmaRead(bus, b, 0, n);
  return E.isRight(r) ? [...b] : r.left.code;
};

export { DmaDirection };
