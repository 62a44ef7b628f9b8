import { type Device, type DeviceConfig, Platform, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { DmaAttr } from '../src/attrs.js';
import { DMA_ATTR_SKIP_CPU_SYNC, DmaDirection } from '../src/debug/index.js';
import {
  IO_TLB_SEGSIZE,
  IO_TLB_SIZE,
  Swiotlb,
  type SwiotlbEvents,
  type SwiotlbOptions,
} from '../src/swiotlb/index.js';

const { BIDIRECTIONAL, TO_DEVICE, FROM_DEVICE, NONE } = DmaDirection;
const KiB = 1024;
const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** Original buffers live above 4 GiB, where a 32-bit device cannot reach them. */
const HIGH = 4 * GiB + 64 * MiB;

interface Rig {
  readonly platform: Platform;
  readonly tlb: Swiotlb;
  readonly dev: Device;
  readonly events: { type: string; payload: object }[];
}

const rig = (device: Partial<DeviceConfig> = {}, options: SwiotlbOptions = {}): Rig => {
  const platform = new Platform();
  const tlb = new Swiotlb(platform, options);
  const dev = unwrap(platform.devices.add({ name: 'dev', dmaMask: 32, ...device }));
  const events: { type: string; payload: object }[] = [];
  tlb.events.tap((_source, type, payload) => events.push({ type, payload }));
  return { platform, tlb, dev, events };
};

const pattern = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

const cpuWrite = (p: Platform, addr: number, bytes: Uint8Array): void =>
  unwrap(p.cpu.write(addr, bytes, 0, bytes.length));

const cpuRead = (p: Platform, addr: number, n: number): Uint8Array => {
  const out = new Uint8Array(n);
  unwrap(p.cpu.read(addr, out, 0, n));
  return out;
};

const slotOf = (t: Swiotlb, tlb: number): number => Math.floor((tlb - t.start) / IO_TLB_SIZE);

const errorCode = (r: E.Either<{ code: string }, unknown>): string | undefined =>
  E.isLeft(r) ? r.left.code : undefined;

describe('Swiotlb pool set-up', () => {
  it('takes the pool from low memory below 4 GiB and zeroes it (swiotlb_init_io_tlb_pool, kernel/dma/swiotlb.c)', () => {
    const { platform, tlb } = rig();
    expect(tlb.end - tlb.start).toBe(4 * MiB);
    expect(tlb.end - 1).toBeLessThanOrEqual(0xffff_ffff);
    expect(tlb.nslabs).toBe((4 * MiB) / IO_TLB_SIZE);
    expect(cpuRead(platform, tlb.start, 4 * KiB).every((b) => b === 0)).toBe(true);
  });

  it('accepts caller-reserved memory as the pool and zeroes it', () => {
    const platform = new Platform();
    const base = 768 * MiB; // the default machine's carveout
    cpuWrite(platform, base, pattern(64, 1));
    const tlb = new Swiotlb(platform, { base, size: 64 * MiB });
    expect([tlb.start, tlb.end, tlb.nslabs]).toEqual([base, base + 64 * MiB, 32768]);
    expect(cpuRead(platform, base, 64).every((b) => b === 0)).toBe(true);
  });

  it('refuses pools that are not whole segments, not one buddy block, or not RAM', () => {
    const platform = new Platform();
    expect(() => new Swiotlb(platform, { size: 100 * KiB })).toThrow(RangeError);
    expect(() => new Swiotlb(platform, { size: 8 * MiB })).toThrow(/pass its base/);
    expect(() => new Swiotlb(platform, { base: 3 * GiB, size: MiB })).toThrow(/not entirely RAM/);
    expect(() => new Swiotlb(platform, { base: 4097, size: MiB })).toThrow(/page-aligned/);
  });

  it('isSwiotlbBuffer is true exactly inside the pool (is_swiotlb_buffer, include/linux/swiotlb.h)', () => {
    const { tlb } = rig();
    expect(tlb.isSwiotlbBuffer(tlb.start)).toBe(true);
    expect(tlb.isSwiotlbBuffer(tlb.end - 1)).toBe(true);
    expect(tlb.isSwiotlbBuffer(tlb.end)).toBe(false);
    expect(tlb.isSwiotlbBuffer(HIGH)).toBe(false);
  });
});

describe('slot search (swiotlb_search_pool_area, kernel/dma/swiotlb.c)', () => {
  it('without a min_align_mask a bounce buffer starts on a slot boundary (swiotlb_align_offset, kernel/dma/swiotlb.c)', () => {
    const { tlb, dev } = rig();
    const a = unwrap(tlb.mapSingle(dev, HIGH + 0x123, 100, TO_DEVICE));
    expect((a - tlb.start) % IO_TLB_SIZE).toBe(0);
  });

  it('consecutive mappings follow the search cursor instead of reusing freed slots (area->index, kernel/dma/swiotlb.c)', () => {
    const { tlb, dev } = rig();
    const a = unwrap(tlb.mapSingle(dev, HIGH, 100, TO_DEVICE));
    const b = unwrap(tlb.mapSingle(dev, HIGH + 4 * KiB, 100, TO_DEVICE));
    expect([slotOf(tlb, a), slotOf(tlb, b)]).toEqual([0, 1]);
    unwrap(tlb.unmapSingle(dev, a, 100, TO_DEVICE));
    expect(slotOf(tlb, unwrap(tlb.mapSingle(dev, HIGH, 100, TO_DEVICE)))).toBe(2);
  });

  it('mappings of PAGE_SIZE or more are page-aligned when the device has no min_align_mask (kernel/dma/swiotlb.c)', () => {
    const { tlb, dev } = rig();
    unwrap(tlb.mapSingle(dev, HIGH, 100, TO_DEVICE)); // cursor now at slot 1
    const big = unwrap(tlb.mapSingle(dev, HIGH + 0x345, 4 * KiB, TO_DEVICE));
    expect(big % 4096).toBe(0);
    expect(slotOf(tlb, big)).toBe(2);
    const small = unwrap(tlb.mapSingle(dev, HIGH, 3 * KiB, TO_DEVICE)); // below PAGE_SIZE: any slot
    expect(slotOf(tlb, small)).toBe(4);
    unwrap(tlb.mapSingle(dev, HIGH, 100, TO_DEVICE)); // slot 6, cursor at 7
    expect(slotOf(tlb, unwrap(tlb.mapSingle(dev, HIGH, 3 * KiB, TO_DEVICE)))).toBe(7);
  });

  it('a min_align_mask keeps the original address bits it covers in the bounce address (swiotlb_tbl_map_single, kernel/dma/swiotlb.c)', () => {
    const { tlb, dev } = rig({ dmaParms: { minAlignMask: 0xfff } });
    for (const off of [0x234, 0xa34, 0xfff, 0x800, 0]) {
      const orig = HIGH + 0x10000 + off;
      const a = unwrap(tlb.mapSingle(dev, orig, 6000, BIDIRECTIONAL));
      expect(a % 0x1000).toBe(orig % 0x1000);
    }
  });

  it('a min_align_mask turns off the historical page alignment of large mappings (Linux >= 6.9, kernel/dma/swiotlb.c)', () => {
    const { tlb, dev } = rig({ dmaParms: { minAlignMask: 0x7ff } });
    unwrap(tlb.mapSingle(dev, HIGH, 100, TO_DEVICE)); // cursor at slot 1
    const big = unwrap(tlb.mapSingle(dev, HIGH + 0x10, 8 * KiB, TO_DEVICE));
    expect(slotOf(tlb, big)).toBe(1);
    expect(big % IO_TLB_SIZE).toBe(0x10);
  });

  it('no bounce buffer crosses a segment of IO_TLB_SEGSIZE slots (slots[].list, kernel/dma/swiotlb.c)', () => {
    const { tlb, dev } = rig();
    unwrap(tlb.mapSingle(dev, HIGH, 100 * IO_TLB_SIZE, TO_DEVICE)); // slots 0..99
    expect(tlb.freeRunAt(100)).toBe(IO_TLB_SEGSIZE - 100);
    const b = unwrap(tlb.mapSingle(dev, HIGH, 64 * KiB, TO_DEVICE)); // 32 slots do not fit in 100..127
    expect(slotOf(tlb, b)).toBe(IO_TLB_SEGSIZE);
  });

  it("no bounce buffer crosses the device's segment boundary (iommu_is_span_boundary, kernel/dma/swiotlb.c)", () => {
    const { tlb, dev } = rig({ dmaParms: { segmentBoundaryMask: 0xffff } });
    unwrap(tlb.mapSingle(dev, HIGH, 100, TO_DEVICE)); // slot 0
    const b = unwrap(tlb.mapSingle(dev, HIGH, 64 * KiB, TO_DEVICE)); // a whole 64 KiB window
    expect(b % (64 * KiB)).toBe(0);
    expect(slotOf(tlb, b)).toBe(32);
  });

  it('freed slots merge with the free runs around them (swiotlb_release_slots, kernel/dma/swiotlb.c)', () => {
    const { tlb, dev } = rig();
    const addrs = [0, 1, 2].map((i) => unwrap(tlb.mapSingle(dev, HIGH + i * 8 * KiB, 3 * KiB, TO_DEVICE)));
    expect(addrs.map((a) => slotOf(tlb, a))).toEqual([0, 2, 4]);
    expect(tlb.freeRunAt(6)).toBe(IO_TLB_SEGSIZE - 6);
    unwrap(tlb.unmapSingle(dev, addrs[1] as number, 3 * KiB, TO_DEVICE));
    expect([tlb.freeRunAt(2), tlb.freeRunAt(3), tlb.freeRunAt(4)]).toEqual([2, 1, 0]);
    unwrap(tlb.unmapSingle(dev, addrs[2] as number, 3 * KiB, TO_DEVICE));
    expect(tlb.freeRunAt(2)).toBe(IO_TLB_SEGSIZE - 2);
    unwrap(tlb.unmapSingle(dev, addrs[0] as number, 3 * KiB, TO_DEVICE));
    expect(tlb.freeRunAt(0)).toBe(IO_TLB_SEGSIZE);
    expect(tlb.stats().used).toBe(0);
  });

  it('an alloc_align_mask wider than a slot aligns the allocation and pads whole slots before the buffer (pad_slots, kernel/dma/swiotlb.c)', () => {
    const { tlb, dev } = rig({ dmaParms: { minAlignMask: 0xfff } });
    unwrap(tlb.mapSingle(dev, HIGH, 100, TO_DEVICE)); // slot 0
    const orig = HIGH + 0x1a34;
    const a = unwrap(tlb.tblMapSingle(dev, orig, 5000, 0xffff, FROM_DEVICE));
    expect(a % 0x1000).toBe(0xa34);
    const [, m] = tlb.mappings();
    expect(m?.slot).toBe(32); // the next 64 KiB-aligned allocation
    expect(a).toBe(tlb.start + 32 * IO_TLB_SIZE + IO_TLB_SIZE + 0x234); // one padding slot
    expect(m?.nslots).toBe(32); // ALIGN(5000 + 0xa34, 64 KiB) bytes
    expect(tlb.origAddr(a - 1)).toBeUndefined();
    unwrap(tlb.unmapSingle(dev, a, 5000, FROM_DEVICE));
    expect(tlb.stats().used).toBe(1);
  });

  it('swiotlb_max_mapping_size is one segment less roundup(min_align_mask, IO_TLB_SIZE) (kernel/dma/swiotlb.c)', () => {
    const { platform, tlb, dev } = rig();
    const nvme = unwrap(platform.devices.add({ name: 'nvme', dmaParms: { minAlignMask: 0xfff } }));
    const small = unwrap(platform.devices.add({ name: 'small', dmaParms: { minAlignMask: 0x3ff } }));
    expect([tlb.maxMappingSize(), tlb.maxMappingSize(dev)]).toEqual([256 * KiB, 256 * KiB]);
    expect(tlb.maxMappingSize(nvme)).toBe(256 * KiB - 4 * KiB);
    expect(tlb.maxMappingSize(small)).toBe(256 * KiB - 2 * KiB);
    expect(E.isRight(tlb.mapSingle(dev, HIGH, 256 * KiB, TO_DEVICE))).toBe(true);
    expect(errorCode(tlb.mapSingle(nvme, HIGH, 256 * KiB - 4 * KiB + 1, TO_DEVICE))).toBe('EINVAL');
    const ok = unwrap(tlb.mapSingle(nvme, HIGH + 0xfff, 256 * KiB - 4 * KiB, TO_DEVICE));
    expect(ok % 0x1000).toBe(0xfff);
  });
});

describe('failures change nothing', () => {
  it('a full pool fails with ENOMEM "swiotlb buffer is full" (swiotlb_tbl_map_single, kernel/dma/swiotlb.c)', () => {
    const { tlb, dev, events } = rig({}, { size: 256 * KiB });
    unwrap(tlb.mapSingle(dev, HIGH, 200 * KiB, TO_DEVICE));
    const before = tlb.stats();
    const r = tlb.mapSingle(dev, HIGH, 64 * KiB, TO_DEVICE);
    expect(E.isLeft(r) && r.left.message).toMatch(
      /swiotlb buffer is full \(sz: 65536 bytes\), total 128 \(slots\), used 100/,
    );
    expect(E.isLeft(r) && r.left.detail).toMatchObject({ longestFreeRun: 28 });
    expect(tlb.stats()).toEqual({ ...before, fullCount: 1 });
    expect(events.at(-1)).toEqual({
      type: 'full',
      payload: expect.objectContaining({ device: 'dev', allocSize: 64 * KiB, warn: true }),
    });
    tlb.mapSingle(dev, HIGH, 64 * KiB, TO_DEVICE, DmaAttr.NO_WARN);
    expect(events.at(-1)?.payload).toMatchObject({ warn: false });
  });

  it('a bounce buffer the device cannot reach is refused with EIO before any slot or byte is taken (swiotlb_map, kernel/dma/swiotlb.c)', () => {
    const platform = new Platform();
    const tlb = new Swiotlb(platform, { base: 5 * GiB, size: MiB });
    const dev = unwrap(platform.devices.add({ name: 'dev32', dmaMask: 32 }));
    const seen: SwiotlbEvents['unreachable'][] = [];
    tlb.events.on('unreachable', (e) => seen.push(e));
    cpuWrite(platform, HIGH, pattern(512, 3));
    const r = tlb.mapSingle(dev, HIGH, 512, TO_DEVICE);
    expect(errorCode(r)).toBe('EIO');
    expect(tlb.stats()).toMatchObject({ used: 0, mappings: 0, bouncesIn: 0, highWater: 0 });
    expect(cpuRead(platform, tlb.start, 512).every((b) => b === 0)).toBe(true);
    expect(seen).toEqual([
      { device: 'dev32', tlb: 5 * GiB, dmaAddr: 5 * GiB, size: 512, limit: 0xffff_ffff },
    ]);
    // The IOMMU path reaches the pool through its IOMMU: no dma_capable() check there.
    expect(E.isRight(tlb.tblMapSingle(dev, HIGH, 512, 0, TO_DEVICE))).toBe(true);
  });

  it('refuses bad arguments with EINVAL or EFAULT and changes nothing', () => {
    const { tlb, dev, events } = rig();
    expect(errorCode(tlb.mapSingle(dev, HIGH, 0, TO_DEVICE))).toBe('EINVAL');
    expect(errorCode(tlb.mapSingle(dev, HIGH, 100, NONE))).toBe('EINVAL');
    expect(errorCode(tlb.mapSingle(dev, 3 * GiB + 16, 100, TO_DEVICE))).toBe('EFAULT');
    expect(errorCode(tlb.tblMapSingle(dev, HIGH, 100, 0x1000, TO_DEVICE))).toBe('EINVAL');
    expect(tlb.stats()).toMatchObject({ used: 0, mappings: 0, bouncesIn: 0 });
    expect(events).toEqual([]);
  });

  it('unmap refuses an address outside the pool, inside a buffer, free, or mapped by another device, and a size past the mapping', () => {
    const { platform, tlb, dev, events } = rig();
    const other = unwrap(platform.devices.add({ name: 'other' }));
    const a = unwrap(tlb.mapSingle(dev, HIGH, 3000, BIDIRECTIONAL));
    const before = { stats: tlb.stats(), events: events.length };
    expect(tlb.unmapSingle(dev, HIGH, 3000, BIDIRECTIONAL)).toMatchObject({
      left: { code: 'EINVAL', message: expect.stringMatching(/outside the swiotlb pool/) },
    });
    expect(errorCode(tlb.unmapSingle(dev, a + 8, 100, BIDIRECTIONAL))).toBe('EINVAL');
    expect(errorCode(tlb.unmapSingle(dev, a + 64 * KiB, 100, BIDIRECTIONAL))).toBe('EINVAL');
    expect(tlb.unmapSingle(other, a, 3000, BIDIRECTIONAL)).toMatchObject({
      left: { code: 'EINVAL', message: 'other: cannot unmap 0x0: dev mapped it' },
    });
    expect(errorCode(tlb.unmapSingle(dev, a, 3001, BIDIRECTIONAL))).toBe('EINVAL');
    expect(errorCode(tlb.unmapSingle(dev, a, 3000, NONE))).toBe('EINVAL');
    expect({ stats: tlb.stats(), events: events.length }).toEqual(before);
    unwrap(tlb.unmapSingle(dev, a, 3000, BIDIRECTIONAL));
    expect(errorCode(tlb.unmapSingle(dev, a, 3000, BIDIRECTIONAL))).toBe('EINVAL'); // double unmap
  });

  it('sync refuses a range not inside one live mapping and copies nothing', () => {
    const { platform, tlb, dev } = rig();
    cpuWrite(platform, HIGH, pattern(4000, 9));
    const a = unwrap(tlb.mapSingle(dev, HIGH, 4000, BIDIRECTIONAL));
    const before = tlb.stats();
    expect(errorCode(tlb.syncForCpu(a + 3000, 1001, BIDIRECTIONAL))).toBe('EINVAL');
    expect(errorCode(tlb.syncForDevice(a + 4000, 0, BIDIRECTIONAL))).toBe('EINVAL');
    expect(errorCode(tlb.syncForDevice(a - 1, 1, BIDIRECTIONAL))).toBe('EINVAL');
    expect(errorCode(tlb.syncForCpu(a, 10, NONE))).toBe('EINVAL');
    expect(tlb.stats()).toEqual(before);
  });
});

describe('bouncing (swiotlb_bounce, kernel/dma/swiotlb.c)', () => {
  it.each([
    ['TO_DEVICE', TO_DEVICE],
    ['FROM_DEVICE', FROM_DEVICE],
    ['BIDIRECTIONAL', BIDIRECTIONAL],
  ] as const)(
    'map copies the original in for %s too, so a partial device write leaks no stale pool data (swiotlb_tbl_map_single, kernel/dma/swiotlb.c)',
    (_name, dir) => {
      const { platform, tlb, dev, events } = rig();
      const data = pattern(5000, dir);
      cpuWrite(platform, HIGH + 0x40, data);
      const a = unwrap(tlb.mapSingle(dev, HIGH + 0x40, data.length, dir));
      expect(cpuRead(platform, a, data.length)).toEqual(data);
      expect(events.map((e) => e.type)).toEqual(['map', 'bounce']);
      expect(events[1]?.payload).toEqual({
        direction: 'to-pool',
        device: 'dev',
        orig: HIGH + 0x40,
        tlb: a,
        bytes: 5000,
      });
    },
  );

  it.each([
    { name: 'TO_DEVICE', dir: TO_DEVICE, copies: false },
    { name: 'FROM_DEVICE', dir: FROM_DEVICE, copies: true },
    { name: 'BIDIRECTIONAL', dir: BIDIRECTIONAL, copies: true },
  ] as const)(
    'unmap of a $name mapping copies the bounce buffer back: $copies (swiotlb_tbl_unmap_single, kernel/dma/swiotlb.c)',
    ({ dir, copies }) => {
      const { platform, tlb, dev } = rig();
      const orig = pattern(3000, 1);
      const written = pattern(3000, 77);
      cpuWrite(platform, HIGH, orig);
      const a = unwrap(tlb.mapSingle(dev, HIGH, 3000, dir));
      cpuWrite(platform, a, written);
      unwrap(tlb.unmapSingle(dev, a, 3000, dir));
      expect(cpuRead(platform, HIGH, 3000)).toEqual(copies ? written : orig);
      expect(tlb.stats()).toMatchObject({ bouncesOut: copies ? 1 : 0, bytesOut: copies ? 3000 : 0 });
    },
  );

  it('DMA_ATTR_SKIP_CPU_SYNC skips the copy back at unmap (swiotlb_tbl_unmap_single, kernel/dma/swiotlb.c)', () => {
    const { platform, tlb, dev } = rig();
    const orig = pattern(3000, 1);
    cpuWrite(platform, HIGH, orig);
    const a = unwrap(tlb.mapSingle(dev, HIGH, 3000, FROM_DEVICE));
    cpuWrite(platform, a, pattern(3000, 2));
    unwrap(tlb.unmapSingle(dev, a, 3000, FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC));
    expect(cpuRead(platform, HIGH, 3000)).toEqual(orig);
    expect(tlb.stats()).toMatchObject({ bouncesOut: 0, used: 0 });
  });

  it('syncs copy only in the directions the mapping allows (swiotlb_sync_single_for_device/cpu, kernel/dma/swiotlb.c)', () => {
    const cases = [
      { dir: TO_DEVICE, toPool: true, fromPool: false },
      { dir: FROM_DEVICE, toPool: false, fromPool: true },
      { dir: BIDIRECTIONAL, toPool: true, fromPool: true },
    ];
    for (const { dir, toPool, fromPool } of cases) {
      const { platform, tlb, dev } = rig();
      cpuWrite(platform, HIGH, pattern(1000, 1));
      const a = unwrap(tlb.mapSingle(dev, HIGH, 1000, dir));
      cpuWrite(platform, HIGH, pattern(1000, 2)); // the CPU updates the original
      unwrap(tlb.syncForDevice(a, 1000, dir));
      expect(cpuRead(platform, a, 1000)).toEqual(pattern(1000, toPool ? 2 : 1));
      cpuWrite(platform, a, pattern(1000, 3)); // the device updates the bounce buffer
      unwrap(tlb.syncForCpu(a, 1000, dir));
      expect(cpuRead(platform, HIGH, 1000)).toEqual(pattern(1000, fromPool ? 3 : 2));
    }
  });

  it('a sync may cover any sub-range of a mapping, also in a later slot (swiotlb_bounce, kernel/dma/swiotlb.c)', () => {
    const { platform, tlb, dev } = rig({ dmaParms: { minAlignMask: 0xfff } });
    const orig = HIGH + 0x300;
    cpuWrite(platform, orig, pattern(9000, 1));
    const a = unwrap(tlb.mapSingle(dev, orig, 9000, BIDIRECTIONAL));
    cpuWrite(platform, a, pattern(9000, 5));
    unwrap(tlb.syncForCpu(a + 5000, 100, BIDIRECTIONAL));
    const back = cpuRead(platform, orig, 9000);
    expect(back.subarray(5000, 5100)).toEqual(pattern(9000, 5).subarray(5000, 5100));
    expect(back.subarray(0, 5000)).toEqual(pattern(9000, 1).subarray(0, 5000));
    expect(back.subarray(5100)).toEqual(pattern(9000, 1).subarray(5100));
    expect(tlb.origAddr(a + 5000)).toBe(orig + 5000);
    expect(tlb.origAddr(a + 9000)).toBeUndefined();
  });
});

describe('statistics', () => {
  it('counts bounces and bytes per device, slots in use and the high-water mark (io_tlb_used_hiwater, kernel/dma/swiotlb.c)', () => {
    const { platform, tlb, dev, events } = rig();
    const nic = unwrap(platform.devices.add({ name: 'nic' }));
    const a = unwrap(tlb.mapSingle(dev, HIGH, 5000, BIDIRECTIONAL)); // 3 slots
    const b = unwrap(tlb.mapSingle(nic, HIGH + 64 * KiB, 100, FROM_DEVICE)); // 1 slot
    unwrap(tlb.syncForCpu(b, 100, FROM_DEVICE));
    unwrap(tlb.unmapSingle(dev, a, 5000, BIDIRECTIONAL));
    expect(tlb.stats()).toEqual({
      nslabs: 2048,
      used: 1,
      highWater: 4,
      mappings: 1,
      fullCount: 0,
      maps: 2,
      bouncesIn: 2,
      bouncesOut: 2,
      bytesIn: 5100,
      bytesOut: 5100,
    });
    expect(tlb.bouncesFor('nic')).toEqual({
      maps: 1,
      bouncesIn: 1,
      bouncesOut: 1,
      bytesIn: 100,
      bytesOut: 100,
    });
    expect(tlb.bouncesFor('gpu')).toEqual({ maps: 0, bouncesIn: 0, bouncesOut: 0, bytesIn: 0, bytesOut: 0 });
    tlb.resetHighWater();
    expect(tlb.stats().highWater).toBe(0);
    expect(events.at(-1)).toEqual({ type: 'hiwater-reset', payload: { previous: 4 } });
    expect(tlb.mappings()).toEqual([
      { device: 'nic', orig: HIGH + 64 * KiB, tlb: b, size: 100, slot: 3, nslots: 1 },
    ]);
  });
});
