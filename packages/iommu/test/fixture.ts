import { type Device, Platform, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { armSmmu, IommuCore, msmIommu, nullIommu, pageAllocatorTables } from '../src/index.js';

/** A default machine with two SMMUs, an MSM System MMU, a null IOMMU and the IOMMU core. */
export const machine = () => {
  const platform = new Platform();
  const iommu = new IommuCore({
    memory: platform.memory,
    tables: pageAllocatorTables(platform.pages),
  });
  unwrap(iommu.registerHardware(armSmmu({ name: 'smmu0' })));
  unwrap(iommu.registerHardware(armSmmu({ name: 'smmu1', contexts: 2 })));
  unwrap(iommu.registerHardware(msmIommu({ name: 'gfx-mmu' })));
  unwrap(iommu.registerHardware(nullIommu({ name: 'null' })));
  const device = (name: string, opts: Parameters<Platform['devices']['add']>[0] = { name }) =>
    unwrap(platform.devices.add({ ...opts, name }));
  /** A page of RAM filled with `value`, written straight to memory (what a device would see). */
  const page = (value: number): number => {
    const pa = unwrap(platform.pages.allocPages(0, { maxAddress: 0xffff_ffff })) * 4096;
    unwrap(platform.memory.fill(pa, value, 4096));
    return pa;
  };
  const read = (dev: Device, bus: number, len = 4, pasid = -1) => {
    const buf = new Uint8Array(len);
    const r = dev.dmaRead(bus, buf, 0, len, pasid);
    return E.isRight(r) ? [...buf] : r.left.code;
  };
  return { platform, iommu, device, page, read };
};
