import { fc, test as fcTest } from '@fast-check/vitest';
import { type Device, type DeviceConfig, Platform, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { expect } from 'vitest';
import { DMA_ATTR_SKIP_CPU_SYNC, DmaDirection } from '../src/debug/index.js';
import { IO_TLB_SEGSIZE, IO_TLB_SIZE, Swiotlb } from '../src/swiotlb/index.js';

const KiB = 1024;
const HIGH = 2 ** 32 + 2 ** 26;
const POOL = 512 * KiB;

/** Devices with the limits that change where a bounce buffer may go. */
const DEVICES: readonly DeviceConfig[] = [
  { name: 'plain' },
  { name: 'nvme', dmaParms: { minAlignMask: 0xfff } },
  { name: 'bounded', dmaParms: { minAlignMask: 0x7ff, segmentBoundaryMask: 0xffff } },
  { name: 'wide', dmaParms: { minAlignMask: 0x3fff } },
];
const ALLOC_ALIGN_MASKS = [0, 0xfff, 0xffff] as const;

type Op =
  | { kind: 'map'; dev: number; offset: number; size: number; dir: DmaDirection; align: number; tbl: boolean }
  | { kind: 'unmap'; pick: number; skipSync: boolean }
  | { kind: 'cpu-write' | 'dev-write' | 'sync-cpu' | 'sync-dev'; pick: number; from: number; len: number };

const dirArb = fc.constantFrom(DmaDirection.TO_DEVICE, DmaDirection.FROM_DEVICE, DmaDirection.BIDIRECTIONAL);
const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 6000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 6001, max: 48 * KiB }) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('map' as const),
      dev: fc.nat(DEVICES.length - 1),
      offset: fc.nat(0x7fff),
      size: sizeArb,
      dir: dirArb,
      align: fc.nat(ALLOC_ALIGN_MASKS.length - 1),
      tbl: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('unmap' as const), pick: fc.nat(), skipSync: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        'cpu-write' as const,
        'dev-write' as const,
        'sync-cpu' as const,
        'sync-dev' as const,
      ),
      pick: fc.nat(),
      from: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      len: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
);

/** What a live mapping must hold: the model's copy of the original and of the bounce buffer. */
interface Live {
  readonly dev: Device;
  readonly orig: number;
  readonly tlb: number;
  readonly size: number;
  readonly dir: DmaDirection;
  readonly origBytes: Uint8Array;
  readonly poolBytes: Uint8Array;
}

const fill = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 17 + 1) & 0xff);

/** Index of the first element where two arrays differ, or -1 (a deep `toEqual` on big arrays is slow). */
const firstDifference = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
};

class Harness {
  readonly platform = new Platform();
  readonly swiotlb = new Swiotlb(this.platform, { size: POOL });
  readonly devs = DEVICES.map((d) => unwrap(this.platform.devices.add({ dmaMask: 32, ...d })));
  readonly live: Live[] = [];
  private step = 0;

  run(op: Op): void {
    this.step += 1;
    if (op.kind === 'map') this.map(op);
    else if (op.kind === 'unmap') this.unmap(op.pick, op.skipSync);
    else this.touch(op);
    this.checkInvariants();
  }

  unmapAll(): void {
    while (this.live.length > 0) this.unmap(0, false);
  }

  private map(op: Extract<Op, { kind: 'map' }>): void {
    const dev = this.devs[op.dev] as Device;
    const orig = HIGH + this.step * 128 * KiB + op.offset;
    const data = fill(op.size, this.step);
    unwrap(this.platform.cpu.write(orig, data, 0, op.size));
    const before = this.swiotlb.stats();
    const align = ALLOC_ALIGN_MASKS[op.align] as number;
    const r = op.tbl
      ? this.swiotlb.tblMapSingle(dev, orig, op.size, align, op.dir)
      : this.swiotlb.mapSingle(dev, orig, op.size, op.dir);
    if (E.isLeft(r)) {
      // Only the size limit and a full (or too fragmented) pool may refuse; nothing changes then.
      expect(['EINVAL', 'ENOMEM']).toContain(r.left.code);
      if (r.left.code === 'EINVAL') expect(op.size).toBeGreaterThan(this.swiotlb.maxMappingSize(dev));
      expect(this.swiotlb.stats()).toEqual({ ...before, fullCount: this.swiotlb.stats().fullCount });
      return;
    }
    const tlb = r.right;
    const mask = dev.dmaParms.minAlignMask;
    expect(tlb % (mask + 1)).toBe(orig % (mask + 1));
    const m: Live = { dev, orig, tlb, size: op.size, dir: op.dir, origBytes: data, poolBytes: data.slice() };
    this.live.push(m);
    this.expectBytes(m);
  }

  private unmap(pick: number, skipSync: boolean): void {
    if (this.live.length === 0) return;
    const [m] = this.live.splice(pick % this.live.length, 1) as [Live];
    const copiesBack = !skipSync && m.dir !== DmaDirection.TO_DEVICE;
    unwrap(this.swiotlb.unmapSingle(m.dev, m.tlb, m.size, m.dir, skipSync ? DMA_ATTR_SKIP_CPU_SYNC : 0));
    if (copiesBack) m.origBytes.set(m.poolBytes);
    expect(firstDifference(this.read(m.orig, m.size), m.origBytes)).toBe(-1);
  }

  /** CPU or device writes to one side of a mapping, or a sync of a sub-range of it. */
  private touch(op: Extract<Op, { pick: number; from: number }>): void {
    if (this.live.length === 0) return;
    const m = this.live[op.pick % this.live.length] as Live;
    const from = Math.floor(op.from * m.size);
    const len = Math.floor(op.len * (m.size - from));
    const data = fill(len, this.step + 1000);
    if (op.kind === 'cpu-write') {
      unwrap(this.platform.cpu.write(m.orig + from, data, 0, len));
      m.origBytes.set(data, from);
    } else if (op.kind === 'dev-write') {
      unwrap(this.platform.cpu.write(m.tlb + from, data, 0, len));
      m.poolBytes.set(data, from);
    } else if (op.kind === 'sync-cpu') {
      unwrap(this.swiotlb.syncForCpu(m.tlb + from, len, m.dir));
      if (m.dir !== DmaDirection.TO_DEVICE) m.origBytes.set(m.poolBytes.subarray(from, from + len), from);
    } else {
      unwrap(this.swiotlb.syncForDevice(m.tlb + from, len, m.dir));
      if (m.dir !== DmaDirection.FROM_DEVICE) m.poolBytes.set(m.origBytes.subarray(from, from + len), from);
    }
    this.expectBytes(m);
  }

  private expectBytes(m: Live): void {
    expect(firstDifference(this.read(m.orig, m.size), m.origBytes)).toBe(-1);
    expect(firstDifference(this.read(m.tlb, m.size), m.poolBytes)).toBe(-1);
  }

  private read(addr: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    unwrap(this.platform.cpu.read(addr, out, 0, n));
    return out;
  }

  /** Live allocations never overlap, never cross a segment or the device's boundary, and `list` agrees. */
  checkInvariants(): void {
    const t = this.swiotlb;
    const maps = t.mappings();
    expect(maps.length).toBe(this.live.length);
    const owner = new Int32Array(t.nslabs).fill(-1);
    let used = 0;
    for (const [k, m] of maps.entries()) {
      for (let s = m.slot; s < m.slot + m.nslots; s++) {
        expect(owner[s]).toBe(-1);
        owner[s] = k;
      }
      used += m.nslots;
      const first = t.start + m.slot * IO_TLB_SIZE;
      const last = first + m.nslots * IO_TLB_SIZE - 1;
      expect(Math.floor(m.slot / IO_TLB_SEGSIZE)).toBe(Math.floor((m.slot + m.nslots - 1) / IO_TLB_SEGSIZE));
      expect(m.tlb).toBeGreaterThanOrEqual(first);
      expect(m.tlb + m.size - 1).toBeLessThanOrEqual(last);
      const window = this.devs.find((d) => d.name === m.device)!.dmaParms.segmentBoundaryMask + 1;
      expect(Math.floor(first / window)).toBe(Math.floor(last / window));
    }
    expect(t.stats().used).toBe(used);
    const expected = new Int32Array(t.nslabs);
    const actual = new Int32Array(t.nslabs);
    let run = 0;
    for (let s = t.nslabs - 1; s >= 0; s--) {
      run = owner[s] !== -1 ? 0 : s % IO_TLB_SEGSIZE === IO_TLB_SEGSIZE - 1 ? 1 : run + 1;
      expected[s] = run;
      actual[s] = t.freeRunAt(s);
    }
    expect(firstDifference(actual, expected)).toBe(-1);
  }
}

fcTest.prop([fc.array(opArb, { maxLength: 40 })])(
  'random map/unmap/sync sequences keep live slots disjoint, round-trip data exactly, and freeing everything empties the pool (kernel/dma/swiotlb.c)',
  (ops) => {
    const h = new Harness();
    for (const op of ops) h.run(op);
    h.unmapAll();
    h.checkInvariants();
    const t = h.swiotlb;
    expect(t.stats()).toMatchObject({ used: 0, mappings: 0 });
    const runs = Array.from({ length: t.nslabs }, (_, s) => t.freeRunAt(s));
    expect(runs).toEqual(Array.from({ length: t.nslabs }, (_, s) => IO_TLB_SEGSIZE - (s % IO_TLB_SEGSIZE)));
  },
);

fcTest.prop([
  fc.nat(DEVICES.length - 1),
  fc.integer({ min: 1, max: 2 ** 20 }),
  fc.integer({ min: 1, max: 200 * KiB }),
  fc.nat(ALLOC_ALIGN_MASKS.length - 1),
])(
  'a bounce address keeps the original bits under min_align_mask and fits its allocation (swiotlb_tbl_map_single, kernel/dma/swiotlb.c)',
  (devIndex, offset, size, align) => {
    const platform = new Platform();
    const t = new Swiotlb(platform, { size: POOL });
    const dev = unwrap(platform.devices.add({ dmaMask: 32, ...(DEVICES[devIndex] as DeviceConfig) }));
    unwrap(t.mapSingle(dev, HIGH, 100, DmaDirection.TO_DEVICE)); // move the cursor off slot 0
    const orig = HIGH + offset;
    const r = t.tblMapSingle(dev, orig, size, ALLOC_ALIGN_MASKS[align] as number, DmaDirection.FROM_DEVICE);
    if (E.isLeft(r)) {
      expect(['EINVAL', 'ENOMEM']).toContain(r.left.code);
      return;
    }
    const mask = dev.dmaParms.minAlignMask;
    expect(r.right % (mask + 1)).toBe(orig % (mask + 1));
    const m = t.mappings().find((x) => x.tlb === r.right)!;
    const alignment = (ALLOC_ALIGN_MASKS[align] as number) + 1;
    expect((m.slot * IO_TLB_SIZE) % Math.max(alignment, IO_TLB_SIZE)).toBe(0);
    expect(r.right + size).toBeLessThanOrEqual(t.start + (m.slot + m.nslots) * IO_TLB_SIZE);
  },
);
