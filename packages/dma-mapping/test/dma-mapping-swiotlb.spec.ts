import { Platform, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { DmaDirection, DmaMapping, Swiotlb } from '../src/index.js';

const GiB = 2 ** 30;

const setup = () => {
  const platform = new Platform();
  const swiotlb = new Swiotlb(platform);
  const dma = new DmaMapping({ platform, swiotlb, forceBounce: ['untrusted'] });
  const highPage = () => unwrap(platform.pages.allocPages(0)) * 4096;
  return { platform, swiotlb, dma, highPage };
};

describe('bounce buffering through the DMA API (kernel/dma/direct.h, kernel/dma/swiotlb.c)', () => {
  it('a 32-bit device handed high memory is bounced below 4 GiB, never truncated; data flows both ways', () => {
    const m = setup();
    const dev = unwrap(m.platform.devices.add({ name: 'dev32', dmaMask: 32 }));
    const pa = m.highPage();
    expect(pa).toBeGreaterThanOrEqual(4 * GiB);
    unwrap(m.platform.cpu.write(pa, Uint8Array.of(1, 2, 3), 0, 3));
    const dma = unwrap(m.dma.mapPage(dev, pa, 4096, DmaDirection.BIDIRECTIONAL));
    expect(dma).toBeLessThan(4 * GiB);
    expect(m.swiotlb.isSwiotlbBuffer(dma)).toBe(true);
    const seen = new Uint8Array(3);
    unwrap(dev.dmaRead(dma, seen, 0, 3));
    expect([...seen]).toEqual([1, 2, 3]);
    unwrap(dev.dmaWrite(dma, Uint8Array.of(7, 8, 9), 0, 3));
    unwrap(m.dma.dmaUnmapPageAttrs(dev, dma, 4096, DmaDirection.BIDIRECTIONAL));
    const back = new Uint8Array(3);
    unwrap(m.platform.cpu.read(pa, back, 0, 3));
    expect([...back]).toEqual([7, 8, 9]);
    expect(m.swiotlb.bouncesFor('dev32').bouncesIn).toBeGreaterThan(0);
  });

  it('sync_for_cpu bounces the device data out before unmap (swiotlb_sync_single_for_cpu)', () => {
    const m = setup();
    const dev = unwrap(m.platform.devices.add({ name: 'untrusted', dmaMask: 64 }));
    expect(m.dma.opsKind(dev)).toBe('swiotlb');
    const pa = m.highPage();
    const dma = unwrap(m.dma.mapPage(dev, pa, 4096, DmaDirection.FROM_DEVICE));
    expect(dma).not.toBe(pa);
    unwrap(dev.dmaWrite(dma, Uint8Array.of(5), 0, 1));
    unwrap(m.dma.dmaSyncSingleForCpu(dev, dma, 4096, DmaDirection.FROM_DEVICE));
    const b = new Uint8Array(1);
    unwrap(m.platform.cpu.read(pa, b, 0, 1));
    expect(b[0]).toBe(5);
    unwrap(m.dma.dmaUnmapPageAttrs(dev, dma, 4096, DmaDirection.FROM_DEVICE));
    expect(m.swiotlb.stats().used).toBe(0);
  });

  it('a full pool fails the map cleanly (ENOMEM "swiotlb buffer is full"), changing nothing', () => {
    const m = setup();
    const dev = unwrap(m.platform.devices.add({ name: 'dev32', dmaMask: 32 }));
    const pa = unwrap(m.platform.pages.allocPages(10)) * 4096;
    const mapped: number[] = [];
    for (;;) {
      const r = m.dma.mapPage(dev, pa, 256 * 1024, DmaDirection.TO_DEVICE);
      if (E.isLeft(r)) {
        expect(r.left.code).toBe('ENOMEM');
        break;
      }
      mapped.push(r.right);
    }
    const used = m.swiotlb.stats().used;
    expect(E.isLeft(m.dma.mapPage(dev, pa, 4096 * 100, DmaDirection.TO_DEVICE))).toBe(true);
    expect(m.swiotlb.stats().used).toBe(used);
    for (const dma of mapped) unwrap(m.dma.dmaUnmapPageAttrs(dev, dma, 256 * 1024, DmaDirection.TO_DEVICE));
    expect(m.swiotlb.stats().used).toBe(0);
  });
});
