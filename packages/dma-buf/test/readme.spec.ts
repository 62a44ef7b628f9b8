import { armSmmu } from '@sharedbuf/iommu';
import { unwrap } from '@sharedbuf/platform';
import { expect, it } from 'vitest';
import { createSystem, DmaDirection, satisfies, sgDmaSegments } from './readme-imports.js';

// The example in README.md: property-tests/test/readme-examples.spec.ts checks that the README
// shows exactly the code between the markers.
it('the README example runs', () => {
  // README:start
  const { platform, iommu, dmabuf } = createSystem({ iommus: [armSmmu({ name: 'smmu0' })] });
  const isp = unwrap(
    platform.devices.add({ name: 'isp', dmaMask: 40, dmaParms: { maxSegmentSize: 0x1_0000 } }),
  );
  unwrap(iommu.probeDevice(isp, { instance: 'smmu0', streamId: 1 }));
  const display = unwrap(
    platform.devices.add({
      name: 'display',
      dmaMask: 30,
      dmaParms: { maxSegmentSize: 0xffff_f000, maxSegmentCount: 1 },
    }),
  );

  const frame = unwrap(dmabuf.export({ name: 'frame', size: 8 << 20 }));
  const a = unwrap(frame.attach(isp));
  const d = unwrap(frame.attach(display, { constraints: { acceptsBounce: false } }));
  const sgt = unwrap(frame.mapAttachment(d, DmaDirection.TO_DEVICE)); // negotiates, then allocates
  const { heap, reasons } = frame.plan!; // 'reserved' (CMA, below 1 GiB), and the planner's reasons
  // README:end
  expect(heap).toBe('reserved');
  expect(reasons.length).toBeGreaterThan(0);
  expect(satisfies(sgDmaSegments(sgt), d.constraints)).toEqual({ ok: true });
  expect(
    satisfies(sgDmaSegments(unwrap(frame.mapAttachment(a, DmaDirection.TO_DEVICE))), a.constraints),
  ).toEqual({ ok: true });
});
