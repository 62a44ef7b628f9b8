import { armSmmu, IommuCore, pageAllocatorTables } from '@sharedbuf/iommu';
import { Platform, unwrap } from '@sharedbuf/platform';
import { expect, it } from 'vitest';
import { DmaDirection, DmaMapping } from '../src/index.js';

// The example in README.md: property-tests/test/readme-examples.spec.ts checks that the README
// shows exactly the code between the markers.
it('the README example runs', () => {
  const platform = new Platform({ arch: 'armv7' });
  const iommu = new IommuCore({
    memory: platform.memory,
    tables: pageAllocatorTables(platform.pages),
  });
  unwrap(iommu.registerHardware(armSmmu({ name: 'smmu0' })));
  // README:start
  const dma = new DmaMapping({ platform, iommu }); // DMA debug on by default
  const cam = unwrap(platform.devices.add({ name: 'cam', dmaMask: 32 }));
  const buf = unwrap(platform.pages.allocPages(0, { maxAddress: 0xffff_ffff })) * 4096;

  unwrap(platform.cpu.write(buf + 64, Uint8Array.of(0xaa), 0, 1)); // dirty CPU data in the buffer
  const dmaAddr = unwrap(dma.mapPage(cam, buf, 4096, DmaDirection.FROM_DEVICE));
  // ARMv7 invalidated the buffer for the device: the dirty line is gone (seed 002's destructive sync)
  unwrap(cam.dmaWrite(dmaAddr, Uint8Array.of(7), 0, 1));
  unwrap(dma.dmaUnmapPageAttrs(cam, dmaAddr, 4096, DmaDirection.FROM_DEVICE)); // the CPU owns it again
  const findings = dma.debug.findings(); // none: this driver followed the rules
  // README:end
  const b = new Uint8Array(1);
  unwrap(platform.cpu.read(buf, b, 0, 1));
  expect(b[0]).toBe(7);
  expect(findings).toEqual([]);
});
