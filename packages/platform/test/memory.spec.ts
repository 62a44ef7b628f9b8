import { fc, test as fcTest } from '@fast-check/vitest';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { PhysicalMemory, unwrap } from '../src/index.js';

// vitest's deep equality is slow on large typed arrays; Buffer.equals compares with memcmp.
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const twoBanks = () =>
  new PhysicalMemory([
    { name: 'low', base: 0x8000_0000, size: 16 * MiB },
    { name: 'high', base: 0x8_8000_0000, size: 16 * MiB },
  ]);

describe('PhysicalMemory', () => {
  it('reads zeros from memory that was never written, and costs nothing for it', () => {
    const mem = new PhysicalMemory([{ name: 'ram', base: 0, size: 64 * GiB }]);
    const buf = new Uint8Array(10_000).fill(7);
    unwrap(mem.read(5 * GiB + 123, buf, 0, buf.length));
    expect(buf.every((b) => b === 0)).toBe(true);
    expect(mem.residentPages).toBe(0);
  });

  it('writes and reads across page boundaries', () => {
    const mem = twoBanks();
    const data = Uint8Array.from({ length: 9000 }, (_, i) => i & 0xff);
    unwrap(mem.write(0x8000_0ff0, data, 0, data.length));
    const back = new Uint8Array(9000);
    unwrap(mem.read(0x8000_0ff0, back, 0, back.length));
    expect(back).toEqual(data);
    expect(mem.residentPages).toBe(4);
  });

  it('reads and writes across adjacent banks', () => {
    const mem = new PhysicalMemory([
      { name: 'a', base: 0, size: 8192 },
      { name: 'b', base: 8192, size: 8192 },
    ]);
    const data = new Uint8Array(200).fill(9);
    expect(E.isRight(mem.write(8100, data, 0, 200))).toBe(true);
    const back = new Uint8Array(200);
    unwrap(mem.read(8100, back, 0, 200));
    expect(back).toEqual(data);
  });

  it('refuses with EFAULT an access that touches a hole, moving no byte', () => {
    const mem = twoBanks();
    const data = new Uint8Array(8192).fill(1);
    const end = 0x8000_0000 + 16 * MiB;
    const r = mem.write(end - 4096, data, 0, 8192);
    expect(E.isLeft(r) && r.left.code).toBe('EFAULT');
    expect(E.isLeft(r) && r.left.detail.firstBadAddress).toBe(end);
    expect(mem.residentPages).toBe(0);
    const rd = mem.read(0x1000, new Uint8Array(4), 0, 4);
    expect(E.isLeft(rd) && rd.left.code).toBe('EFAULT');
  });

  it('copies between banks, including from never-written pages', () => {
    const mem = twoBanks();
    const data = Uint8Array.from({ length: 12_288 }, (_, i) => (i * 7) & 0xff);
    unwrap(mem.write(0x8000_1000, data, 0, data.length));
    unwrap(mem.fill(0x8_8000_5000, 0xaa, 4096));
    unwrap(mem.copy(0x8_8000_0800, 0x8000_1000, data.length));
    unwrap(mem.copy(0x8_8000_5000, 0x8000_9000, 4096));
    const back = new Uint8Array(data.length);
    unwrap(mem.read(0x8_8000_0800, back, 0, back.length));
    expect(same(back, data)).toBe(true);
    const zeros = new Uint8Array(4096).fill(1);
    unwrap(mem.read(0x8_8000_5000, zeros, 0, 4096));
    expect(zeros.every((b) => b === 0)).toBe(true);
  });

  it('rejects overlapping or unaligned banks (a machine description bug)', () => {
    expect(
      () =>
        new PhysicalMemory([
          { name: 'a', base: 0, size: 8192 },
          { name: 'b', base: 4096, size: 8192 },
        ]),
    ).toThrow(/overlap/);
    expect(() => new PhysicalMemory([{ name: 'a', base: 100, size: 8192 }])).toThrow(/multiples/);
  });

  fcTest.prop(
    [
      fc.array(
        fc.record({
          offset: fc.integer({ min: 0, max: 3 * 65536 - 1 }),
          bytes: fc.uint8Array({ minLength: 1, maxLength: 5000 }),
        }),
        { maxLength: 20 },
      ),
      fc.integer({ min: 0, max: 3 * 65536 - 1 }),
      fc.integer({ min: 0, max: 10_000 }),
    ],
    { numRuns: 200 },
  )('sparse memory reads back exactly what was written, at any offset and length', (writes, at, len) => {
    const size = 3 * 65536;
    const mem = new PhysicalMemory([
      { name: 'a', base: 0x1_0000_0000, size: 65536 },
      { name: 'b', base: 0x1_0001_0000, size: 2 * 65536 },
    ]);
    const model = new Uint8Array(size);
    for (const w of writes) {
      const n = Math.min(w.bytes.length, size - w.offset);
      unwrap(mem.write(0x1_0000_0000 + w.offset, w.bytes, 0, n));
      model.set(w.bytes.subarray(0, n), w.offset);
    }
    const n = Math.min(len, size - at);
    const back = new Uint8Array(n);
    unwrap(mem.read(0x1_0000_0000 + at, back, 0, n));
    expect(same(back, model.subarray(at, at + n))).toBe(true);
  });
});
