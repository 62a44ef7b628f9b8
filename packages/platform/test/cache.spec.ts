import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { type CacheEvents, Cpu, CpuCache } from '../src/cache/index.js';
import { EventBus, Rng, unwrap } from '../src/index.js';
import { PhysicalMemory } from '../src/memory/physical-memory.js';

const MiB = 1024 * 1024;
const LOW = 0x8000_0000;
const HIGH = 0x8_8000_0000;
const LOW_END = LOW + 64 * MiB;

interface Seen {
  type: string;
  payload: Record<string, unknown>;
}

const machine = (lines = 64, spontaneousWritebackChance = 0) => {
  const memory = new PhysicalMemory([
    { name: 'dram0', base: LOW, size: 64 * MiB },
    { name: 'dram1', base: HIGH, size: 16 * MiB },
  ]);
  const events = new EventBus<CacheEvents>('cache');
  const seen: Seen[] = [];
  events.tap((_s, type, payload) => seen.push({ type, payload: payload as Record<string, unknown> }));
  const cache = new CpuCache(memory, events, new Rng(7), { lines, spontaneousWritebackChance });
  return { memory, cache, cpu: new Cpu(cache), seen };
};

const bytes = (length: number, value: number) => new Uint8Array(length).fill(value);

const memRead = (memory: PhysicalMemory, addr: number, length: number): Uint8Array => {
  const out = new Uint8Array(length);
  unwrap(memory.read(addr, out, 0, length));
  return out;
};

const cpuRead = (cpu: Cpu, addr: number, length: number, attr: 'cached' | 'uncached' = 'cached') => {
  const out = new Uint8Array(length);
  unwrap(cpu.read(addr, out, 0, length, attr));
  return out;
};

describe('CpuCache: write-back, write-allocate lines', () => {
  it('a cached CPU store stays in the cache until the line is cleaned (write-back; arch/arm64/mm/cache.S dcache_clean_poc)', () => {
    const { memory, cache, cpu } = machine();
    unwrap(cpu.write(LOW, bytes(64, 0xaa), 0, 64));
    expect(memRead(memory, LOW, 64)).toEqual(bytes(64, 0));
    expect(cpuRead(cpu, LOW, 64)).toEqual(bytes(64, 0xaa));
    expect(cache.isDirty(LOW)).toBe(true);
    unwrap(cache.clean(LOW, 64));
    expect(memRead(memory, LOW, 64)).toEqual(bytes(64, 0xaa));
  });

  it('a read miss allocates a clean line filled from memory', () => {
    const { memory, cache, cpu } = machine();
    unwrap(memory.write(LOW + 64, bytes(64, 5), 0, 64));
    expect(cpuRead(cpu, LOW + 70, 4)).toEqual(bytes(4, 5));
    expect(cache.isCached(LOW + 64)).toBe(true);
    expect(cache.isDirty(LOW + 64)).toBe(false);
    expect(cache.cachedLineCount()).toBe(1);
  });

  it('a store to part of a line fills the rest of the line from memory first (write-allocate)', () => {
    const { memory, cache, cpu } = machine();
    unwrap(memory.write(LOW, bytes(64, 1), 0, 64));
    unwrap(cpu.write(LOW + 10, bytes(4, 9), 0, 4));
    unwrap(cache.clean(LOW, 1));
    const expected = bytes(64, 1);
    expected.fill(9, 10, 14);
    expect(memRead(memory, LOW, 64)).toEqual(expected);
  });

  it('clean writes dirty lines back whole and keeps them cached, clean (arch/arm/mm/cache-v7.S v7_dma_clean_range)', () => {
    const { memory, cache, cpu } = machine();
    unwrap(cpu.write(LOW + 60, bytes(8, 3), 0, 8));
    expect(cache.dirtyLineCount()).toBe(2);
    unwrap(cache.clean(LOW + 62, 1));
    expect(cache.dirtyLineCount()).toBe(1);
    expect(cache.cachedLineCount()).toBe(2);
    expect(memRead(memory, LOW + 60, 8)).toEqual(Uint8Array.of(3, 3, 3, 3, 0, 0, 0, 0));
  });

  it('invalidating a dirty line discards the CPU data and emits dirty-discarded (seed 002: some syncs are destructive)', () => {
    const { memory, cache, cpu, seen } = machine();
    unwrap(cpu.write(LOW + 128, bytes(64, 0xee), 0, 64));
    unwrap(cache.invalidate(LOW + 128, 64));
    expect(cache.cachedLineCount()).toBe(0);
    expect(cpuRead(cpu, LOW + 128, 64)).toEqual(bytes(64, 0));
    expect(memRead(memory, LOW + 128, 64)).toEqual(bytes(64, 0));
    expect(seen.find((e) => e.type === 'dirty-discarded')?.payload).toEqual({
      addr: LOW + 128,
      length: 64,
      bytesLost: 64,
      lineAddrs: [LOW + 128],
    });
  });

  it('invalidate drops whole lines even at unaligned edges: the DMA layer must clean edges itself (arch/arm/mm/cache-v7.S v7_dma_inv_range)', () => {
    const { cache, cpu } = machine();
    unwrap(cpu.write(LOW, bytes(64, 0x11), 0, 64));
    unwrap(cache.invalidate(LOW + 16, 8));
    expect(cpuRead(cpu, LOW, 64)).toEqual(bytes(64, 0));
  });

  it('cleanInvalidate writes dirty lines back, then drops them: nothing is lost (arch/arm64/mm/cache.S dcache_clean_inval_poc)', () => {
    const { memory, cache, cpu, seen } = machine();
    unwrap(cpu.write(LOW, bytes(200, 4), 0, 200));
    unwrap(cache.cleanInvalidate(LOW, 200));
    expect(cache.cachedLineCount()).toBe(0);
    expect(memRead(memory, LOW, 200)).toEqual(bytes(200, 4));
    expect(seen.some((e) => e.type === 'dirty-discarded')).toBe(false);
  });

  it('each maintenance call emits exactly one maintenance event, with what it did', () => {
    const { cache, cpu, seen } = machine();
    unwrap(cpu.write(LOW, bytes(256, 1), 0, 256));
    seen.length = 0;
    unwrap(cache.clean(LOW, 4096));
    unwrap(cache.invalidate(LOW, 4096));
    unwrap(cache.cleanInvalidate(LOW, 4096));
    expect(seen.map((e) => e.payload)).toEqual([
      { op: 'clean', addr: LOW, length: 4096, linesWrittenBack: 4, linesInvalidated: 0 },
      { op: 'invalidate', addr: LOW, length: 4096, linesWrittenBack: 0, linesInvalidated: 4 },
      { op: 'clean-invalidate', addr: LOW, length: 4096, linesWrittenBack: 0, linesInvalidated: 0 },
    ]);
  });

  it('an operation whose range touches a hole fails with EFAULT and changes nothing', () => {
    const { memory, cache, cpu, seen } = machine();
    unwrap(cpu.write(LOW_END - 64, bytes(64, 2), 0, 64));
    seen.length = 0;
    for (const r of [
      cache.clean(LOW_END - 64, 65),
      cache.invalidate(LOW_END - 64, 65),
      cache.cleanInvalidate(LOW_END - 64, 65),
      cpu.write(LOW_END - 128, bytes(129, 7), 0, 129),
      cpu.read(LOW_END - 200, new Uint8Array(300), 0, 300),
      cpu.write(LOW_END - 8, bytes(9, 7), 0, 9, 'uncached'),
    ]) {
      expect(E.isLeft(r) && r.left.code).toBe('EFAULT');
    }
    expect(seen).toEqual([]);
    expect(cache.cachedLineCount()).toBe(1);
    expect(cache.isDirty(LOW_END - 64)).toBe(true);
    expect(memRead(memory, LOW_END - 256, 256)).toEqual(bytes(256, 0));
  });

  it('a negative maintenance length is EINVAL', () => {
    const { cache } = machine();
    const r = cache.clean(LOW, -1);
    expect(E.isLeft(r) && r.left.code).toBe('EINVAL');
  });

  it('capacity is bounded: a dirty victim is written back and reported as an eviction', () => {
    const { memory, cache, cpu, seen } = machine(4);
    unwrap(cpu.write(LOW, bytes(5 * 64, 6), 0, 5 * 64));
    expect(cache.cachedLineCount()).toBe(4);
    const evictions = seen.filter((e) => e.type === 'writeback');
    expect(evictions).toHaveLength(1);
    const victim = evictions[0]?.payload as { addr: number; reason: string };
    expect(victim.reason).toBe('eviction');
    expect(memRead(memory, victim.addr, 64)).toEqual(bytes(64, 6));
    expect(cache.isCached(victim.addr)).toBe(false);
  });

  it('with spontaneousWritebackChance 1, every cached store makes the cache write one dirty line back on its own', () => {
    const { memory, cache, cpu, seen } = machine(64, 1);
    unwrap(cpu.write(LOW, bytes(64, 8), 0, 64));
    expect(seen).toEqual([{ type: 'writeback', payload: { addr: LOW, reason: 'spontaneous' } }]);
    expect(cache.isDirty(LOW)).toBe(false);
    expect(cache.isCached(LOW)).toBe(true);
    expect(memRead(memory, LOW, 64)).toEqual(bytes(64, 8));
  });

  it('rejects a capacity or a chance that makes no sense', () => {
    const memory = new PhysicalMemory([{ name: 'm', base: 0, size: 4096 }]);
    const bus = new EventBus<CacheEvents>('cache');
    expect(() => new CpuCache(memory, bus, new Rng(1), { lines: 0 })).toThrow(RangeError);
    expect(() => new CpuCache(memory, bus, new Rng(1), { spontaneousWritebackChance: 2 })).toThrow(
      RangeError,
    );
  });

  it('works for lines above 4 GiB', () => {
    const { memory, cache, cpu } = machine();
    unwrap(cpu.write(HIGH + 4090, bytes(12, 0x42), 0, 12));
    expect(cache.dirtyLineCount()).toBe(2);
    unwrap(cache.clean(HIGH, 8192));
    expect(memRead(memory, HIGH + 4090, 12)).toEqual(bytes(12, 0x42));
  });

  it('finds cached lines the same way in small ranges (page walk) and huge ones (slot scan)', () => {
    const { memory, cache, cpu } = machine(16);
    unwrap(cpu.write(LOW + 5 * MiB, bytes(64, 1), 0, 64));
    unwrap(cpu.write(LOW + 9 * MiB, bytes(64, 2), 0, 64));
    unwrap(cache.clean(LOW + 5 * MiB, 64));
    expect(cache.dirtyLineCount()).toBe(1);
    unwrap(cache.clean(LOW, 32 * MiB));
    expect(cache.dirtyLineCount()).toBe(0);
    expect(memRead(memory, LOW + 9 * MiB, 64)).toEqual(bytes(64, 2));
  });
});

describe('Cpu: attributes of the mapping', () => {
  it('uncached and write-combine accesses bypass the cache, and a stale cached alias stays stale', () => {
    const { memory, cache, cpu } = machine();
    expect(cpuRead(cpu, LOW, 64)).toEqual(bytes(64, 0));
    unwrap(cpu.write(LOW, bytes(64, 0x77), 0, 64, 'uncached'));
    unwrap(cpu.write(LOW + 64, bytes(64, 0x66), 0, 64, 'write-combine'));
    expect(memRead(memory, LOW, 128)).toEqual(Uint8Array.from([...bytes(64, 0x77), ...bytes(64, 0x66)]));
    expect(cache.cachedLineCount()).toBe(1);
    expect(cpuRead(cpu, LOW, 64)).toEqual(bytes(64, 0));
    expect(cpuRead(cpu, LOW, 64, 'uncached')).toEqual(bytes(64, 0x77));
    expect(cache.cachedLineCount()).toBe(1);
  });
});

describe('CpuCache: coherent device paths', () => {
  it('snoopRead sees the CPU dirty data and leaves the cache as it was', () => {
    const { cache, cpu, seen } = machine();
    unwrap(cpu.write(LOW + 30, bytes(40, 9), 0, 40));
    seen.length = 0;
    const out = new Uint8Array(100);
    unwrap(cache.snoopRead(LOW, out, 0, 100));
    expect(out).toEqual(Uint8Array.from({ length: 100 }, (_, i) => (i >= 30 && i < 70 ? 9 : 0)));
    expect(cache.dirtyLineCount()).toBe(2);
    expect(seen).toEqual([]);
  });

  it('snoopWrite: the CPU sees the device data, and its dirty bytes elsewhere in a shared line survive', () => {
    const { memory, cache, cpu, seen } = machine();
    unwrap(cpu.write(LOW, bytes(128, 1), 0, 128));
    unwrap(cache.snoopWrite(LOW + 32, bytes(64, 2), 0, 64));
    expect(cache.cachedLineCount()).toBe(0);
    const expected = bytes(128, 1).fill(2, 32, 96);
    expect(cpuRead(cpu, LOW, 128)).toEqual(expected);
    expect(memRead(memory, LOW, 128)).toEqual(expected);
    expect(seen.at(-1)).toEqual({
      type: 'snoop-invalidate',
      payload: { addr: LOW + 32, length: 64, linesWrittenBack: 2, linesInvalidated: 2 },
    });
  });
});
