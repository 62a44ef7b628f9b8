import { fc, test as fcTest } from '@fast-check/vitest';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect } from 'vitest';
import { type CacheEvents, Cpu, CpuCache } from '../src/cache/index.js';
import {
  type Device,
  type DeviceEvents,
  DeviceRegistry,
  type DmaTranslation,
  type TranslationOut,
} from '../src/device/index.js';
import { EventBus, kernelError, Rng, unwrap } from '../src/index.js';
import { PhysicalMemory } from '../src/memory/physical-memory.js';

const LINE = 64;
const LOW = 0x8000_0000;
const LOW_END = LOW + 4 * 1024 * 1024;
const WINDOW = 4 * 4096;
/** The window ends where RAM ends, so a transfer can be made to run into the hole. */
const BASE = LOW_END - WINDOW;

/** Shared by every run (its window zeroed each time): a PhysicalMemory per run costs a 32 MiB slab. */
const memory = new PhysicalMemory([{ name: 'dram0', base: LOW, size: LOW_END - LOW }]);

const machine = (lines: number, chance: number, seed: number) => {
  unwrap(memory.fill(BASE, 0, WINDOW));
  const cacheBus = new EventBus<CacheEvents>('cache');
  const rng = new Rng(seed);
  const cache = new CpuCache(memory, cacheBus, rng, { lines, spontaneousWritebackChance: chance });
  const events = new EventBus<DeviceEvents>('devices');
  const trace: string[] = [];
  const record = (_s: string, type: string, payload: object) =>
    trace.push(`${type} ${JSON.stringify(payload)}`);
  events.tap(record);
  cacheBus.tap(record);
  return { cache, cpu: new Cpu(cache), devices: new DeviceRegistry(memory, cache, events), rng, trace };
};

const hexOf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const pattern = (length: number, base: number) => Uint8Array.from({ length }, (_, i) => (base + i * 7) % 251);

/** Mostly short spans crowded near the start (so operations overlap), sometimes long ones anywhere. */
const span = fc
  .tuple(
    fc.oneof(fc.nat(300), fc.nat(WINDOW - 1)),
    fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: WINDOW })),
  )
  .map(([off, len]) => ({ off, len: Math.min(len, WINDOW - off) }));

const cacheShape = fc.record({
  lines: fc.constantFrom(2, 8, 1024),
  chance: fc.constantFrom(0, 0.3),
  seed: fc.integer({ min: 1, max: 0xffff_ffff }),
});

const dmaRead = (device: Device, busAddr: number, length: number) => {
  const out = new Uint8Array(length);
  unwrap(device.dmaRead(busAddr, out, 0, length));
  return out;
};

/** Bus page i → physical page `order[i]` of the window. */
class ShuffledPages implements DmaTranslation {
  constructor(private readonly order: readonly number[]) {}
  translate(device: Device, busAddr: number, length: number, write: boolean, out: TranslationOut): number {
    const page = this.order[Math.floor(busAddr / 4096)];
    if (page === undefined) {
      out.error = kernelError('EFAULT', 'unmapped', { device: device.name, busAddr, write });
      return 0;
    }
    out.phys = BASE + page * 4096 + (busAddr % 4096);
    return Math.min(length, 4096 - (busAddr % 4096));
  }
}

describe('Device DMA properties', () => {
  fcTest.prop([
    cacheShape,
    fc.array(fc.tuple(fc.constantFrom('cpu-write', 'cpu-read', 'dma-write', 'dma-read'), span, fc.nat(250)), {
      maxLength: 30,
    }),
  ])('a coherent device always sees the CPU last write, and the CPU the device last write', (shape, ops) => {
    const m = machine(shape.lines, shape.chance, shape.seed);
    const dev = unwrap(m.devices.add({ name: 'gpu', coherent: true }));
    const view = new Uint8Array(WINDOW);
    for (const [kind, { off, len }, base] of ops) {
      const data = pattern(len, base);
      if (kind === 'cpu-write') unwrap(m.cpu.write(BASE + off, data, 0, len));
      else if (kind === 'dma-write') unwrap(dev.dmaWrite(BASE + off, data, 0, len));
      else if (kind === 'cpu-read') unwrap(m.cpu.read(BASE + off, data, 0, len));
      else unwrap(dev.dmaRead(BASE + off, data, 0, len));
      if (kind.endsWith('write')) view.set(data, off);
      else expect(hexOf(data)).toBe(hexOf(view.subarray(off, off + len)));
    }
    expect(hexOf(dmaRead(dev, BASE, WINDOW))).toBe(hexOf(view));
  });

  fcTest.prop([span, fc.option(span, { nil: undefined }), fc.nat(250), fc.integer({ min: 0, max: 2 ** 40 })])(
    'without eviction, a non-coherent device sees the CPU write exactly where it was cleaned (any dma-ranges offset)',
    (w, c, base, busBase) => {
      const m = machine(1024, 0, 1);
      const dev = unwrap(m.devices.add({ name: 'isp', dmaMask: 64, dmaRangeOffset: BASE - busBase }));
      const data = pattern(w.len, base + 1);
      unwrap(m.cpu.write(BASE + w.off, data, 0, w.len));
      if (c !== undefined) unwrap(m.cache.clean(BASE + c.off, c.len));
      const seen = dmaRead(dev, busBase + w.off, w.len);
      const expected = Uint8Array.from({ length: w.len }, (_, i) => {
        const line = Math.floor((w.off + i) / LINE);
        const cleaned = c !== undefined && line >= Math.floor(c.off / LINE) && line * LINE < c.off + c.len;
        return cleaned ? (data[i] as number) : 0;
      });
      expect(hexOf(seen)).toBe(hexOf(expected));
    },
  );

  fcTest.prop([
    cacheShape,
    fc.array(fc.tuple(span, fc.nat(250)), { maxLength: 10 }),
    fc.boolean(),
    fc.boolean(),
    fc.nat(WINDOW - 1),
    fc.integer({ min: 1, max: 300 }),
  ])(
    'a refused transfer (DMA limit or hole) moves no byte and changes neither memory nor the cache',
    (shape, writes, coherent, write, off, beyond) => {
      const m = machine(shape.lines, shape.chance, shape.seed);
      for (const [{ off: o, len }, base] of writes) unwrap(m.cpu.write(BASE + o, pattern(len, base), 0, len));
      // Either the range runs into the hole after RAM, or its end passes a bus_dma_limit.
      const viaLimit = beyond % 2 === 0;
      const dev = unwrap(
        m.devices.add({ name: 'd', coherent, dmaMask: 64, busDmaLimit: viaLimit ? BASE + off + 1 : 0 }),
      );
      const len = viaLimit ? 2 + beyond : WINDOW - off + beyond;
      const snapshot = () => {
        const mem = new Uint8Array(WINDOW);
        const cpuView = new Uint8Array(WINDOW);
        unwrap(memory.read(BASE, mem, 0, WINDOW));
        unwrap(m.cache.snoopRead(BASE, cpuView, 0, WINDOW));
        return `${hexOf(mem)} ${hexOf(cpuView)} ${m.cache.cachedLineCount()} ${m.cache.dirtyLineCount()} ${m.rng.seed}`;
      };
      const before = snapshot();
      m.trace.length = 0;
      const buf = pattern(len, 77);
      const r = write ? dev.dmaWrite(BASE + off, buf, 0, len) : dev.dmaRead(BASE + off, buf, 0, len);
      expect(E.isLeft(r) && r.left.code).toBe('EFAULT');
      expect(hexOf(buf)).toBe(hexOf(pattern(len, 77)));
      expect(snapshot()).toBe(before);
      expect(m.trace.map((t) => t.split(' ')[0])).toEqual(['dma-fault']);
    },
  );

  fcTest.prop([
    fc.shuffledSubarray([0, 1, 2, 3], { minLength: 4, maxLength: 4 }),
    span,
    fc.nat(250),
    fc.boolean(),
  ])(
    'through a page-scattering translation, each byte lands on its translated physical address',
    (order, w, base, coherent) => {
      const m = machine(8, 0, 1);
      const dev = unwrap(m.devices.add({ name: 'gpu', coherent }));
      dev.translation = new ShuffledPages(order);
      const data = pattern(w.len, base);
      unwrap(dev.dmaWrite(w.off, data, 0, w.len));
      const got = new Uint8Array(w.len);
      for (let i = 0; i < w.len; i++) {
        const bus = w.off + i;
        const phys = BASE + (order[Math.floor(bus / 4096)] as number) * 4096 + (bus % 4096);
        unwrap(memory.read(phys, got, i, 1));
      }
      expect(hexOf(got)).toBe(hexOf(data));
      expect(hexOf(dmaRead(dev, w.off, w.len))).toBe(hexOf(data));
    },
  );
});
