import { PAGE_SIZE, Platform, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { DmaDirection } from '../src/debug/index.js';
import { Swiotlb } from '../src/swiotlb/index.js';

const { TO_DEVICE, FROM_DEVICE, BIDIRECTIONAL } = DmaDirection;
const FOUR_GIB = 2 ** 32;

const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);

/** A 32-bit device, a pool in low memory, and a 16 KiB buffer the page allocator put above 4 GiB. */
const machine = (coherent = false) => {
  const platform = new Platform();
  const swiotlb = new Swiotlb(platform);
  const dev = unwrap(platform.devices.add({ name: 'cam0', dmaMask: 32, coherent }));
  const buf = unwrap(platform.pages.allocPages(2)) * PAGE_SIZE;
  return { platform, swiotlb, dev, buf };
};

describe('bounce buffering end to end (kernel/dma/direct.h, kernel/dma/swiotlb.c)', () => {
  it('a buffer above 4 GiB is bounced for a 32-bit device: it reads the pool copy, and its writes reach the original at unmap', () => {
    const { platform, swiotlb, dev, buf } = machine();
    expect(buf).toBeGreaterThanOrEqual(FOUR_GIB);
    const size = 10_000;
    const frame = bytes(size, 1);
    unwrap(platform.cpu.write(buf + 100, frame, 0, size));
    // The device cannot reach the original: this is why dma_direct_map_phys bounces it.
    expect(E.isLeft(dev.dmaRead(buf + 100, new Uint8Array(size), 0, size))).toBe(true);

    const tlb = unwrap(swiotlb.mapSingle(dev, buf + 100, size, TO_DEVICE));
    expect(tlb + size - 1).toBeLessThan(FOUR_GIB);
    unwrap(platform.cache.clean(tlb, size)); // the DMA layer's arch_sync_dma_for_device on the pool
    const seen = new Uint8Array(size);
    unwrap(dev.dmaRead(tlb, seen, 0, size));
    expect(seen).toEqual(frame);
    unwrap(swiotlb.unmapSingle(dev, tlb, size, TO_DEVICE));

    const out = unwrap(swiotlb.mapSingle(dev, buf + 100, size, FROM_DEVICE));
    unwrap(platform.cache.clean(out, size)); // arm64 cleans for FROM_DEVICE too
    const result = bytes(size, 99);
    unwrap(dev.dmaWrite(out, result, 0, size));
    unwrap(platform.cache.invalidate(out, size)); // arch_sync_dma_for_cpu before the copy back
    unwrap(swiotlb.unmapSingle(dev, out, size, FROM_DEVICE));
    const back = new Uint8Array(size);
    unwrap(platform.cpu.read(buf + 100, back, 0, size));
    expect(back).toEqual(result);
    expect(swiotlb.bouncesFor('cam0')).toEqual({
      maps: 2,
      bouncesIn: 2,
      bouncesOut: 1,
      bytesIn: 2 * size,
      bytesOut: size,
    });
    expect(swiotlb.stats().used).toBe(0);
  });

  it('a partial device write leaves the rest of the original as it was, because map bounced it in (swiotlb_tbl_map_single)', () => {
    const { platform, swiotlb, dev, buf } = machine(true);
    const before = bytes(8192, 5);
    unwrap(platform.cpu.write(buf, before, 0, before.length));
    const tlb = unwrap(swiotlb.mapSingle(dev, buf, 8192, FROM_DEVICE));
    unwrap(dev.dmaWrite(tlb + 1000, bytes(500, 200), 0, 500));
    unwrap(swiotlb.unmapSingle(dev, tlb, 8192, FROM_DEVICE));
    const after = new Uint8Array(8192);
    unwrap(platform.cpu.read(buf, after, 0, after.length));
    const expected = before.slice();
    expected.set(bytes(500, 200), 1000);
    expect(after).toEqual(expected);
  });

  it('a coherent device sees the CPU copy in the pool and its own writes come back through sync_for_cpu', () => {
    const { platform, swiotlb, dev, buf } = machine(true);
    const tlb = unwrap(swiotlb.mapSingle(dev, buf, 4096, BIDIRECTIONAL));
    unwrap(platform.cpu.write(buf, bytes(4096, 7), 0, 4096));
    unwrap(swiotlb.syncForDevice(tlb, 4096, BIDIRECTIONAL));
    const seen = new Uint8Array(4096);
    unwrap(dev.dmaRead(tlb, seen, 0, 4096));
    expect(seen).toEqual(bytes(4096, 7));
    unwrap(dev.dmaWrite(tlb, bytes(4096, 8), 0, 4096));
    unwrap(swiotlb.syncForCpu(tlb, 4096, BIDIRECTIONAL));
    const back = new Uint8Array(4096);
    unwrap(platform.cpu.read(buf, back, 0, 4096));
    expect(back).toEqual(bytes(4096, 8));
  });
});
