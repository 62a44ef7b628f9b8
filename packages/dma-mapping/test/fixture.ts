import { armSmmu, IommuCore, pageAllocatorTables } from '@sharedbuf/iommu';
import { type DeviceConfig, type MachineConfig, Platform, unwrap } from '@sharedbuf/platform';
import { DmaMapping, type DmaMappingOptions } from '../src/index.js';

/** A default machine with one SMMU, the IOMMU core and the DMA API (options merged in). */
export const dmaMachine = (machine: Partial<MachineConfig> = {}, opts: Partial<DmaMappingOptions> = {}) => {
  const platform = new Platform(machine);
  const iommu = new IommuCore({
    memory: platform.memory,
    tables: pageAllocatorTables(platform.pages),
  });
  unwrap(iommu.registerHardware(armSmmu({ name: 'smmu0' })));
  const dma = new DmaMapping({ platform, iommu, ...opts });
  const device = (config: DeviceConfig, behindIommu = false) => {
    const dev = unwrap(platform.devices.add(config));
    if (behindIommu)
      unwrap(iommu.probeDevice(dev, { instance: 'smmu0', streamId: platform.devices.list().length }));
    return dev;
  };
  /** `pages` pages of RAM, physically contiguous, at or below `maxAddress` if given. */
  const buffer = (pages = 1, maxAddress?: number) =>
    unwrap(
      platform.pages.allocPages(Math.ceil(Math.log2(pages)), maxAddress === undefined ? {} : { maxAddress }),
    ) * 4096;
  const cpuWrite = (phys: number, bytes: number[]) =>
    unwrap(platform.cpu.write(phys, Uint8Array.from(bytes), 0, bytes.length));
  const cpuRead = (phys: number, n: number) => {
    const b = new Uint8Array(n);
    unwrap(platform.cpu.read(phys, b, 0, n));
    return [...b];
  };
  return { platform, iommu, dma, device, buffer, cpuWrite, cpuRead };
};
