import { Platform, unwrap } from '@sharedbuf/platform';
import { expect, it } from 'vitest';
import {
  armSmmu,
  IOMMU_READ,
  IOMMU_WRITE,
  IommuCore,
  iommuIovaToPhys,
  iommuMap,
  pageAllocatorTables,
} from '../src/index.js';

// The example in README.md: property-tests/test/readme-examples.spec.ts checks that the README
// shows exactly the code between the markers.
it('the README example runs', () => {
  // README:start
  const platform = new Platform();
  const iommu = new IommuCore({
    memory: platform.memory, // IO page tables live in simulated RAM
    tables: pageAllocatorTables(platform.pages),
  });
  unwrap(iommu.registerHardware(armSmmu({ name: 'smmu0' })));
  const gpu = unwrap(platform.devices.add({ name: 'gpu', dmaMask: 48 }));
  unwrap(iommu.probeDevice(gpu, { instance: 'smmu0', streamId: 1 })); // the device leads to its IOMMU

  const domain = unwrap(iommu.domainAlloc('unmanaged', { instance: 'smmu0' }));
  unwrap(iommu.attachDevice(domain, gpu));
  const page = unwrap(platform.pages.allocPages(0)) * 4096;
  unwrap(iommuMap(domain, 0x4000_0000, page, 4096, IOMMU_READ | IOMMU_WRITE));
  const phys = iommuIovaToPhys(domain, 0x4000_0123); // page + 0x123
  const faulted = gpu.dmaRead(0x5000_0000, new Uint8Array(4), 0, 4); // Left: EFAULT, recorded
  // README:end
  expect(phys).toBe(page + 0x123);
  expect(faulted._tag).toBe('Left');
  expect(iommu.faults).toHaveLength(1);
});
