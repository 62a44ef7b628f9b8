import { expect, it } from 'vitest';
import { Platform, unwrap } from '../src/index.js';

// The example in README.md: property-tests/test/readme-examples.spec.ts checks that the README
// shows exactly the code between the markers.
it('the README example runs', () => {
  // README:start
  const platform = new Platform(); // RAM below and above 4 GiB, CMA, a carveout, ARMv8 caches
  const dev = unwrap(platform.devices.add({ name: 'dma0', dmaMask: 32 }));
  const page = unwrap(platform.pages.allocPages(0, { maxAddress: 0xffff_ffff })) * 4096;

  unwrap(platform.cpu.write(page, Uint8Array.of(1, 2, 3), 0, 3)); // lands in the CPU cache
  const seen = new Uint8Array(3);
  unwrap(dev.dmaRead(page, seen, 0, 3)); // a non-coherent device reads memory: stale zeros
  unwrap(platform.cache.clean(page, 3)); // the clean the driver forgot
  unwrap(dev.dmaRead(page, seen, 0, 3)); // now 1, 2, 3
  // README:end
  expect([...seen]).toEqual([1, 2, 3]);
});
