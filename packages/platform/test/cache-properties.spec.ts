import { fc, test as fcTest } from '@fast-check/vitest';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect } from 'vitest';
import { type CacheEvents, Cpu, CpuCache } from '../src/cache/index.js';
import { EventBus, Rng, unwrap } from '../src/index.js';
import { PhysicalMemory } from '../src/memory/physical-memory.js';

const LINE = 64;
const LOW = 0x8000_0000;
const LOW_END = LOW + 4 * 1024 * 1024;
const WINDOW = 3 * 4096;
/** The window ends where RAM ends, so an operation can be made to cross into the hole. */
const BASE = LOW_END - WINDOW;

/**
 * One RAM shared by every run, its window zeroed at the start of each: a fresh PhysicalMemory per
 * run would allocate a 32 MiB page slab each time and spend the test in the garbage collector.
 */
const memory = new PhysicalMemory([{ name: 'dram0', base: LOW, size: LOW_END - LOW }]);

const machine = (lines: number, chance: number, seed: number) => {
  unwrap(memory.fill(BASE, 0, WINDOW));
  const events = new EventBus<CacheEvents>('cache');
  const trace: string[] = [];
  events.tap((_s, type, payload) => trace.push(`${type} ${JSON.stringify(payload)}`));
  const rng = new Rng(seed);
  const cache = new CpuCache(memory, events, rng, { lines, spontaneousWritebackChance: chance });
  return { memory, cache, cpu: new Cpu(cache), rng, trace };
};

/** Bytes that differ from one position to the next, so a mix of two writes is visible. */
const pattern = (length: number, base: number) => Uint8Array.from({ length }, (_, i) => (base + i * 7) % 251);

/** Mostly short spans crowded near the start (so operations overlap), sometimes long ones anywhere. */
const span = fc
  .tuple(
    fc.oneof(fc.nat(300), fc.nat(WINDOW - 1)),
    fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: WINDOW })),
  )
  .map(([off, len]) => ({ off, len: Math.min(len, WINDOW - off) }));

const cacheShape = fc.record({
  lines: fc.constantFrom(2, 4, 16, 1024),
  chance: fc.constantFrom(0, 0.3),
  seed: fc.integer({ min: 1, max: 0xffff_ffff }),
});

type Op =
  | { kind: 'write'; off: number; len: number; base: number }
  | { kind: 'read' | 'clean' | 'invalidate' | 'clean-invalidate' | 'snoop-read'; off: number; len: number }
  | { kind: 'snoop-write'; off: number; len: number; base: number };

const opArb = (kinds: readonly Op['kind'][]): fc.Arbitrary<Op> =>
  fc
    .tuple(fc.constantFrom(...kinds), span, fc.nat(250))
    .map(([kind, { off, len }, base]) => ({ kind, off, len, base }) as Op);

/** Hex text of bytes: comparing strings is fast, and a mismatch still shows where. */
const hexOf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

const read = (fn: (dst: Uint8Array) => E.Either<unknown, void>, len: number) => {
  const out = new Uint8Array(len);
  expect(E.isRight(fn(out))).toBe(true);
  return out;
};

const lineSpan = (off: number, len: number) => {
  const from = Math.floor(off / LINE) * LINE;
  return { from, to: Math.min(WINDOW, Math.ceil((off + len) / LINE) * LINE) };
};

/** Everything observable about the window: memory, the CPU's cached view, line states, the RNG. */
const fingerprint = (m: ReturnType<typeof machine>) => ({
  memory: hexOf(read((d) => m.memory.read(BASE, d, 0, WINDOW), WINDOW)),
  snooped: hexOf(read((d) => m.cache.snoopRead(BASE, d, 0, WINDOW), WINDOW)),
  lines: Array.from(
    { length: WINDOW / LINE },
    (_, i) => `${+m.cache.isCached(BASE + i * LINE)}${+m.cache.isDirty(BASE + i * LINE)}`,
  ).join(''),
  cached: m.cache.cachedLineCount(),
  dirty: m.cache.dirtyLineCount(),
  rng: m.rng.seed,
});

describe('CpuCache properties', () => {
  fcTest.prop([
    cacheShape,
    fc.array(opArb(['write', 'read', 'clean', 'invalidate', 'clean-invalidate']), { maxLength: 40 }),
  ])(
    'the CPU reads its last write, or memory after an invalidate, whatever the evictions',
    ({ lines, chance, seed }, ops) => {
      const m = machine(lines, chance, seed);
      const view = new Uint8Array(WINDOW);
      for (const op of ops) {
        const addr = BASE + op.off;
        if (op.kind === 'write') {
          const data = pattern(op.len, op.base);
          unwrap(m.cpu.write(addr, data, 0, op.len));
          view.set(data, op.off);
        } else if (op.kind === 'read') {
          expect(hexOf(read((d) => m.cpu.read(addr, d, 0, op.len), op.len))).toBe(
            hexOf(view.subarray(op.off, op.off + op.len)),
          );
        } else if (op.kind === 'invalidate') {
          unwrap(m.cache.invalidate(addr, op.len));
          const { from, to } = lineSpan(op.off, op.len);
          view.set(
            read((d) => m.memory.read(BASE + from, d, 0, to - from), to - from),
            from,
          );
        } else if (op.kind === 'clean') {
          unwrap(m.cache.clean(addr, op.len));
        } else {
          unwrap(m.cache.cleanInvalidate(addr, op.len));
        }
      }
      expect(hexOf(read((d) => m.cpu.read(BASE, d, 0, WINDOW), WINDOW))).toBe(hexOf(view));
    },
  );

  fcTest.prop([
    cacheShape,
    fc.array(opArb(['write', 'read', 'snoop-read', 'snoop-write', 'clean', 'clean-invalidate']), {
      maxLength: 40,
    }),
  ])(
    'a coherent (snooping) device always sees the CPU last write, and the CPU sees the device writes',
    ({ lines, chance, seed }, ops) => {
      const m = machine(lines, chance, seed);
      const view = new Uint8Array(WINDOW);
      for (const op of ops) {
        const addr = BASE + op.off;
        const expected = () => hexOf(view.subarray(op.off, op.off + op.len));
        if (op.kind === 'write' || op.kind === 'snoop-write') {
          const data = pattern(op.len, op.base);
          if (op.kind === 'write') unwrap(m.cpu.write(addr, data, 0, op.len));
          else unwrap(m.cache.snoopWrite(addr, data, 0, op.len));
          view.set(data, op.off);
        } else if (op.kind === 'read') {
          expect(hexOf(read((d) => m.cpu.read(addr, d, 0, op.len), op.len))).toBe(expected());
        } else if (op.kind === 'snoop-read') {
          expect(hexOf(read((d) => m.cache.snoopRead(addr, d, 0, op.len), op.len))).toBe(expected());
        } else if (op.kind === 'clean') {
          unwrap(m.cache.clean(addr, op.len));
        } else {
          unwrap(m.cache.cleanInvalidate(addr, op.len));
        }
      }
      expect(hexOf(read((d) => m.cache.snoopRead(BASE, d, 0, WINDOW), WINDOW))).toBe(hexOf(view));
      expect(hexOf(read((d) => m.cpu.read(BASE, d, 0, WINDOW), WINDOW))).toBe(hexOf(view));
    },
  );

  fcTest.prop([span, fc.option(span, { nil: undefined }), fc.nat(250), fc.nat(250)])(
    'without eviction, a non-coherent device sees the CPU write exactly on the lines that were cleaned',
    (w, c, oldBase, newBase) => {
      const m = machine(1024, 0, 1);
      const old = pattern(WINDOW, oldBase);
      unwrap(m.memory.write(BASE, old, 0, WINDOW));
      const data = pattern(w.len, newBase + 1);
      unwrap(m.cpu.write(BASE + w.off, data, 0, w.len));
      if (c !== undefined) unwrap(m.cache.clean(BASE + c.off, c.len));
      const seen = read((d) => m.memory.read(BASE + w.off, d, 0, w.len), w.len);
      const expected = Uint8Array.from({ length: w.len }, (_, i) => {
        const line = Math.floor((w.off + i) / LINE);
        const cleaned = c !== undefined && line >= Math.floor(c.off / LINE) && line * LINE < c.off + c.len;
        return cleaned ? (data[i] as number) : (old[w.off + i] as number);
      });
      expect(hexOf(seen)).toBe(hexOf(expected));
    },
  );

  fcTest.prop([
    span,
    fc.integer({ min: 1, max: 8 }),
    fc.nat(250),
    fc.nat(250),
    fc.integer({ min: 1, max: 1000 }),
  ])(
    'with eviction, a non-coherent device sees each line either all old or all new, never a mix',
    (w, lines, oldBase, newBase, seed) => {
      const m = machine(lines, 0.5, seed);
      const old = pattern(WINDOW, oldBase);
      unwrap(m.memory.write(BASE, old, 0, WINDOW));
      const fresh = old.slice();
      fresh.set(pattern(w.len, newBase + 1), w.off);
      unwrap(m.cpu.write(BASE + w.off, fresh, w.off, w.len));
      const seen = read((d) => m.memory.read(BASE, d, 0, WINDOW), WINDOW);
      const mixed: number[] = [];
      for (let at = 0; at < WINDOW; at += LINE) {
        const got = seen.subarray(at, at + LINE);
        const isOld = got.every((b, i) => b === old[at + i]);
        const isNew = got.every((b, i) => b === fresh[at + i]);
        if (!isOld && !isNew) mixed.push(BASE + at);
      }
      expect(mixed).toEqual([]);
    },
  );

  const failing = fc.tuple(
    fc.constantFrom(
      'write',
      'read',
      'uncached-write',
      'clean',
      'invalidate',
      'clean-invalidate',
      'snoop-read',
      'snoop-write',
    ),
    fc.nat(WINDOW - 1),
    fc.integer({ min: 1, max: 200 }),
  );

  fcTest.prop([cacheShape, fc.array(opArb(['write', 'read']), { maxLength: 20 }), failing])(
    'a failed operation leaves memory, the cache and the random generator unchanged',
    ({ lines, chance, seed }, setup, [kind, off, beyond]) => {
      const m = machine(lines, chance, seed);
      for (const op of setup) {
        const buf = pattern(op.len, 3);
        if (op.kind === 'write') unwrap(m.cpu.write(BASE + op.off, buf, 0, op.len));
        else unwrap(m.cpu.read(BASE + op.off, buf, 0, op.len));
      }
      const before = fingerprint(m);
      const events = m.trace.length;
      const len = WINDOW - off + beyond;
      const addr = BASE + off;
      const buf = pattern(len, 9);
      const results = {
        write: () => m.cpu.write(addr, buf, 0, len),
        read: () => m.cpu.read(addr, buf, 0, len),
        'uncached-write': () => m.cpu.write(addr, buf, 0, len, 'uncached'),
        clean: () => m.cache.clean(addr, len),
        invalidate: () => m.cache.invalidate(addr, len),
        'clean-invalidate': () => m.cache.cleanInvalidate(addr, len),
        'snoop-read': () => m.cache.snoopRead(addr, buf, 0, len),
        'snoop-write': () => m.cache.snoopWrite(addr, buf, 0, len),
      };
      const r = results[kind]();
      expect(E.isLeft(r) && r.left.code).toBe('EFAULT');
      expect(m.trace.length).toBe(events);
      expect(fingerprint(m)).toEqual(before);
    },
  );

  fcTest.prop([
    cacheShape,
    fc.array(opArb(['write', 'read', 'clean', 'invalidate', 'snoop-write']), { maxLength: 30 }),
  ])('evictions and spontaneous writebacks are deterministic for a given seed', ({ lines, seed }, ops) => {
    const run = () => {
      const m = machine(lines, 0.3, seed);
      for (const op of ops) {
        const addr = BASE + op.off;
        const buf = pattern(op.len, 'base' in op ? op.base : 0);
        if (op.kind === 'write') unwrap(m.cpu.write(addr, buf, 0, op.len));
        else if (op.kind === 'read') unwrap(m.cpu.read(addr, buf, 0, op.len));
        else if (op.kind === 'clean') unwrap(m.cache.clean(addr, op.len));
        else if (op.kind === 'invalidate') unwrap(m.cache.invalidate(addr, op.len));
        else unwrap(m.cache.snoopWrite(addr, buf, 0, op.len));
      }
      return { trace: m.trace, state: fingerprint(m) };
    };
    expect(run()).toEqual(run());
  });
});
