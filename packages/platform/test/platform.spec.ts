import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { dmaBitMask, Platform, unwrap } from '../src/index.js';

const GiB = 2 ** 30;

describe('Platform (the default machine)', () => {
  it('has RAM below and above 4 GiB with a hole between, so 32-bit DMA limits matter', () => {
    const p = new Platform();
    expect(p.memory.isRam(0xbfff_f000, 4096)).toBe(true);
    expect(p.memory.isRam(0xc000_0000, 4096)).toBe(false);
    expect(p.memory.isRam(4 * GiB, 4096)).toBe(true);
    const high = unwrap(p.pages.allocPages(0));
    expect(high * 4096).toBeGreaterThanOrEqual(4 * GiB);
    const low = unwrap(p.pages.allocPages(0, { maxAddress: 0xffff_ffff }));
    expect(low * 4096).toBeLessThan(4 * GiB);
  });

  it('keeps CMA and carveouts out of the buddy allocator', () => {
    const p = new Platform();
    const cma = p.defaultCma!;
    const pfn = unwrap(cma.alloc(1024, 0));
    expect(pfn * 4096).toBeGreaterThanOrEqual(cma.base);
    const carve = p.carveouts.get('carveout')!;
    expect(unwrap(carve.alloc(8192, 4096))).toBe(carve.base);
  });

  it('gives a process zeroed pages even when the page had dirty cache lines from an earlier life', () => {
    const p = new Platform();
    const pfn = unwrap(p.pages.allocPages(0));
    unwrap(p.cpu.write(pfn * 4096, new Uint8Array(64).fill(0xee), 0, 64));
    unwrap(p.pages.freePages(pfn, 0));
    const proc = p.processes.spawn('app');
    const va = unwrap(proc.mm.mmap({ length: 4096, prot: { read: true, write: true } }));
    const back = new Uint8Array(64);
    unwrap(proc.mm.read(va, back, 0, 64));
    expect(proc.mm.lookup(va)).toBe(pfn);
    expect(back.every((b) => b === 0)).toBe(true);
    unwrap(p.cache.clean(pfn * 4096, 4096));
    unwrap(p.memory.read(pfn * 4096, back, 0, 64));
    expect(back.every((b) => b === 0)).toBe(true);
  });

  it('lets a device DMA real bytes the CPU wrote, through the cache model', () => {
    const p = new Platform();
    const dev = unwrap(p.devices.add({ name: 'dma0', dmaMask: 32 }));
    expect(dev.dmaMask).toEqual(dmaBitMask(32));
    const buf = unwrap(p.pages.allocPages(0, { maxAddress: 0xffff_ffff })) * 4096;
    unwrap(p.cpu.write(buf, Uint8Array.of(1, 2, 3), 0, 3));
    const seen = new Uint8Array(3);
    unwrap(dev.dmaRead(buf, seen, 0, 3));
    expect([...seen]).toEqual([0, 0, 0]);
    unwrap(p.cache.clean(buf, 3));
    unwrap(dev.dmaRead(buf, seen, 0, 3));
    expect([...seen]).toEqual([1, 2, 3]);
  });

  it('records every component into one trace', () => {
    const p = new Platform();
    const rec = p.recorder();
    unwrap(p.devices.add({ name: 'd' }));
    p.processes.spawn('x');
    expect(rec.trace.map((e) => `${e.source}:${e.type}`)).toEqual(['device:device-add', 'mm:spawn']);
    expect(E.isLeft(p.devices.add({ name: 'd' }))).toBe(true);
  });

  it('boots a 64 GiB machine without touching its memory', () => {
    const p = new Platform({ banks: [{ name: 'big', base: 0, size: 64 * GiB }], cma: [], carveouts: [] });
    expect(p.memory.residentPages).toBe(0);
    expect(p.pages.freePageCount()).toBe((64 * GiB) / 4096);
  });
});
