import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { type CacheEvents, Cpu, CpuCache } from '../src/cache/index.js';
import {
  DEFAULT_DMA_PARMS,
  type Device,
  type DeviceEvents,
  DeviceRegistry,
  DirectTranslation,
  type DmaTranslation,
  dmaDirectLimit,
  type TranslationOut,
} from '../src/device/index.js';
import { DMA_MASK_64, dmaBitMask, EventBus, kernelError, Rng, unwrap } from '../src/index.js';
import { PhysicalMemory } from '../src/memory/physical-memory.js';

const MiB = 1024 * 1024;
const LOW = 0x8000_0000;
const HIGH = 0x8_8000_0000;

interface Seen {
  type: string;
  payload: Record<string, unknown>;
}

const machine = () => {
  const memory = new PhysicalMemory([
    { name: 'dram0', base: LOW, size: 64 * MiB },
    { name: 'dram1', base: HIGH, size: 16 * MiB },
  ]);
  const cache = new CpuCache(memory, new EventBus<CacheEvents>('cache'), new Rng(3), { lines: 256 });
  const events = new EventBus<DeviceEvents>('devices');
  const seen: Seen[] = [];
  events.tap((_s, type, payload) => seen.push({ type, payload: payload as Record<string, unknown> }));
  const devices = new DeviceRegistry(memory, cache, events);
  return { memory, cache, cpu: new Cpu(cache), devices, seen };
};

const bytes = (length: number, value: number) => new Uint8Array(length).fill(value);

const dmaRead = (device: Device, busAddr: number, length: number) => {
  const out = new Uint8Array(length);
  unwrap(device.dmaRead(busAddr, out, 0, length));
  return out;
};

const cpuRead = (cpu: Cpu, addr: number, length: number) => {
  const out = new Uint8Array(length);
  unwrap(cpu.read(addr, out, 0, length));
  return out;
};

describe('Device: defaults and description', () => {
  it('platform devices default to 32-bit streaming and coherent masks (drivers/base/platform.c setup_pdev_dma_masks)', () => {
    const { devices } = machine();
    const dev = unwrap(devices.add({ name: 'isp' }));
    expect(dev.dmaMask.bits).toBe(32);
    expect(dev.coherentDmaMask.bits).toBe(32);
    expect(dev.bus).toBe('platform');
    expect(dev.busDmaLimit).toBe(0);
    expect(dev.coherent).toBe(false);
    expect(dev.doesDma).toBe(true);
    expect(dev.iommu).toBeUndefined();
    expect(dev.translation).toBe(devices.directTranslation);
  });

  it('max_segment_size defaults to 64 KiB and min_align_mask to 0 (include/linux/dma-mapping.h dma_get_max_seg_size)', () => {
    const { devices } = machine();
    const dev = unwrap(devices.add({ name: 'enc', dmaParms: { minAlignMask: 0xfff } }));
    expect(dev.dmaParms).toEqual({
      maxSegmentSize: 65536,
      segmentBoundaryMask: 0xffffffff,
      minAlignMask: 0xfff,
      maxSegmentCount: Number.POSITIVE_INFINITY,
    });
    expect(DEFAULT_DMA_PARMS.minAlignMask).toBe(0);
  });

  it('the segment boundary defaults to 4 GiB, as PCI sets it (drivers/pci/probe.c pci_device_add)', () => {
    expect(DEFAULT_DMA_PARMS.segmentBoundaryMask).toBe(0xffff_ffff);
  });

  it('max_segment_size may be any unsigned int, not only a power of two (include/linux/dma-mapping.h dma_set_max_seg_size)', () => {
    const { devices } = machine();
    const dev = unwrap(devices.add({ name: 'mmc', dmaParms: { maxSegmentSize: 0x3f_ffff } }));
    expect(dev.dmaParms.maxSegmentSize).toBe(0x3f_ffff);
    expect(E.isRight(devices.add({ name: 'nvme', dmaParms: { maxSegmentSize: 0xffff_ffff } }))).toBe(true);
  });

  it('a full 64-bit mask is kept exact and reaches memory above 4 GiB', () => {
    const { devices, memory } = machine();
    const dev = unwrap(devices.add({ name: 'gpu', dmaMask: 64, coherentDmaMask: 64 }));
    expect(dev.dmaMask).toEqual(DMA_MASK_64);
    unwrap(memory.write(HIGH, bytes(16, 0x5a), 0, 16));
    expect(dmaRead(dev, HIGH, 16)).toEqual(bytes(16, 0x5a));
  });
});

describe('Device: DMA through the cache, end to end', () => {
  it('a non-coherent device reads stale memory until the CPU cleans its cached writes', () => {
    const { devices, cache, cpu } = machine();
    const dev = unwrap(devices.add({ name: 'display' }));
    unwrap(cpu.write(LOW, bytes(256, 0xc1), 0, 256));
    expect(dmaRead(dev, LOW, 256)).toEqual(bytes(256, 0));
    unwrap(cache.clean(LOW, 256));
    expect(dmaRead(dev, LOW, 256)).toEqual(bytes(256, 0xc1));
  });

  it('after a non-coherent device writes, the CPU reads its stale lines until it invalidates them', () => {
    const { devices, cache, cpu } = machine();
    const dev = unwrap(devices.add({ name: 'camera' }));
    expect(cpuRead(cpu, LOW, 128)).toEqual(bytes(128, 0));
    unwrap(dev.dmaWrite(LOW, bytes(128, 0xd2), 0, 128));
    expect(cpuRead(cpu, LOW, 128)).toEqual(bytes(128, 0));
    unwrap(cache.invalidate(LOW, 128));
    expect(cpuRead(cpu, LOW, 128)).toEqual(bytes(128, 0xd2));
  });

  it('a coherent device sees the CPU dirty data, and the CPU sees its writes, with no maintenance', () => {
    const { devices, cpu } = machine();
    const dev = unwrap(devices.add({ name: 'gpu', coherent: true }));
    unwrap(cpu.write(LOW + 8, bytes(100, 0x31), 0, 100));
    expect(dmaRead(dev, LOW + 8, 100)).toEqual(bytes(100, 0x31));
    unwrap(dev.dmaWrite(LOW + 50, bytes(20, 0x32), 0, 20));
    expect(cpuRead(cpu, LOW + 8, 100)).toEqual(bytes(100, 0x31).fill(0x32, 42, 62));
  });

  it('every transfer emits dma-read or dma-write', () => {
    const { devices, seen } = machine();
    const dev = unwrap(devices.add({ name: 'dma0' }));
    seen.length = 0;
    unwrap(dev.dmaWrite(LOW, bytes(4, 1), 0, 4));
    dmaRead(dev, LOW, 4);
    expect(seen).toEqual([
      { type: 'dma-write', payload: { device: 'dma0', busAddr: LOW, length: 4, pasid: -1 } },
      { type: 'dma-read', payload: { device: 'dma0', busAddr: LOW, length: 4, pasid: -1 } },
    ]);
  });
});

describe('Device: addressing limits and faults', () => {
  it('a device with a 32-bit mask is refused an address above 4 GiB: a fault, no byte moved (include/linux/dma-direct.h dma_capable)', () => {
    const { devices, memory, seen } = machine();
    const dev = unwrap(devices.add({ name: 'usb' }));
    unwrap(memory.write(HIGH, bytes(64, 7), 0, 64));
    seen.length = 0;
    const dst = bytes(64, 0xff);
    const r = dev.dmaRead(HIGH, dst, 0, 64);
    expect(E.isLeft(r) && r.left.code).toBe('EFAULT');
    expect(dst).toEqual(bytes(64, 0xff));
    const w = dev.dmaWrite(HIGH, bytes(64, 1), 0, 64);
    expect(E.isLeft(w) && w.left.code).toBe('EFAULT');
    const check = new Uint8Array(64);
    unwrap(memory.read(HIGH, check, 0, 64));
    expect(check).toEqual(bytes(64, 7));
    expect(seen.map((e) => e.type)).toEqual(['dma-fault', 'dma-fault']);
    expect(seen[0]?.payload).toMatchObject({ device: 'usb', busAddr: HIGH, faultAddr: HIGH, code: 'EFAULT' });
  });

  it('a range whose last byte is beyond the limit moves no byte, not even the reachable ones', () => {
    const { devices, memory } = machine();
    const dev = unwrap(devices.add({ name: 'sd', dmaMask: 25, dmaRangeOffset: LOW }));
    const edge = 2 ** 25;
    const r = dev.dmaWrite(edge - 16, bytes(32, 9), 0, 32);
    expect(E.isLeft(r) && r.left.detail).toMatchObject({ busAddr: edge, limit: edge - 1 });
    const check = new Uint8Array(32);
    unwrap(memory.read(LOW + edge - 16, check, 0, 32));
    expect(check).toEqual(bytes(32, 0));
  });

  it('bus_dma_limit of any value caps DMA at min_not_zero(dma_mask, bus_dma_limit) (include/linux/dma-direct.h dma_capable)', () => {
    const { devices } = machine();
    const limit = LOW + 3 * MiB + 123;
    const dev = unwrap(devices.add({ name: 'eth', busDmaLimit: limit }));
    expect(dmaDirectLimit(dev)).toBe(limit);
    expect(E.isRight(dev.dmaRead(limit, new Uint8Array(1), 0, 1))).toBe(true);
    const r = dev.dmaRead(limit - 3, new Uint8Array(5), 0, 5);
    expect(E.isLeft(r) && r.left.detail).toMatchObject({ busAddr: limit + 1 });
    const wide = unwrap(devices.add({ name: 'eth2', dmaMask: 64, busDmaLimit: 0 }));
    expect(dmaDirectLimit(wide)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('DirectTranslation applies the dma-ranges offset: physical = bus + offset (include/linux/dma-direct.h translate_dma_to_phys)', () => {
    const { devices, memory } = machine();
    unwrap(memory.write(LOW + 0x1000, bytes(8, 0x44), 0, 8));
    const dev = unwrap(devices.add({ name: 'vpu', dmaRangeOffset: LOW }));
    expect(dmaRead(dev, 0x1000, 8)).toEqual(bytes(8, 0x44));
    const out: TranslationOut = { pasid: -1, phys: 0, error: undefined };
    expect(devices.directTranslation.translate(dev, 0x1000, 8, false, out)).toBe(8);
    expect(out.phys).toBe(LOW + 0x1000);
  });

  it('a bus address that reaches no RAM faults', () => {
    const { devices } = machine();
    const dev = unwrap(devices.add({ name: 'npu' }));
    const r = dev.dmaRead(0x1000, new Uint8Array(4), 0, 4);
    expect(E.isLeft(r) && r.left.code).toBe('EFAULT');
  });

  it('a device that does not do DMA fails every transfer with EIO (kernel/dma/mapping.c dma_set_mask)', () => {
    const { devices } = machine();
    const dev = unwrap(devices.add({ name: 'gpio', doesDma: false }));
    const r = dev.dmaRead(LOW, new Uint8Array(4), 0, 4);
    expect(E.isLeft(r) && r.left.code).toBe('EIO');
  });

  it('a bad buffer slice is a caller bug and throws before anything moves', () => {
    const { devices } = machine();
    const dev = unwrap(devices.add({ name: 'x' }));
    expect(() => dev.dmaRead(LOW, new Uint8Array(4), 2, 4)).toThrow(RangeError);
  });
});

/** An IOMMU-like translation: bus page i maps to physical page `pages[i]`; others fault. */
class PageListTranslation implements DmaTranslation {
  calls = 0;
  constructor(private readonly pages: readonly number[]) {}
  translate(device: Device, busAddr: number, length: number, write: boolean, out: TranslationOut): number {
    this.calls += 1;
    const page = this.pages[Math.floor(busAddr / 4096)];
    if (page === undefined) {
      out.error = kernelError('EFAULT', `unmapped ${busAddr}`, { device: device.name, busAddr, write });
      return 0;
    }
    out.phys = page + (busAddr % 4096);
    return Math.min(length, 4096 - (busAddr % 4096));
  }
}

describe('Device: pluggable translation', () => {
  it('copies run by run through the installed translation', () => {
    const { devices, memory } = machine();
    const dev = unwrap(devices.add({ name: 'gpu' }));
    dev.translation = new PageListTranslation([LOW + 0x3000, LOW + 0x1000, LOW + 0x2000]);
    const src = Uint8Array.from({ length: 3 * 4096 }, (_, i) => (i >> 12) + 1);
    unwrap(dev.dmaWrite(0, src, 0, src.length));
    const check = new Uint8Array(4);
    for (const [phys, value] of [
      [LOW + 0x3000, 1],
      [LOW + 0x1000, 2],
      [LOW + 0x2000, 3],
    ] as const) {
      unwrap(memory.read(phys + 100, check, 0, 4));
      expect(check).toEqual(bytes(4, value));
    }
    expect(dmaRead(dev, 0, src.length)).toEqual(src);
  });

  it('translates the whole range before moving a byte: a fault on the last page leaves the first ones untouched', () => {
    const { devices, memory } = machine();
    const dev = unwrap(devices.add({ name: 'gpu' }));
    const xlat = new PageListTranslation([LOW, LOW + 0x1000]);
    dev.translation = xlat;
    const r = dev.dmaWrite(0, bytes(3 * 4096, 0xab), 0, 3 * 4096);
    expect(E.isLeft(r) && r.left.message).toBe(`unmapped ${2 * 4096}`);
    const check = new Uint8Array(8192);
    unwrap(memory.read(LOW, check, 0, 8192));
    expect(check).toEqual(new Uint8Array(8192));
    expect(xlat.calls).toBe(3);
  });

  it('a translation that lands outside RAM is refused as EFAULT', () => {
    const { devices } = machine();
    const dev = unwrap(devices.add({ name: 'gpu' }));
    dev.translation = new PageListTranslation([0x4000_0000]);
    const r = dev.dmaRead(0, new Uint8Array(16), 0, 16);
    expect(E.isLeft(r) && r.left.code).toBe('EFAULT');
  });

  it('a transfer started from inside another transfer of the same device throws (shared scratch state)', () => {
    const { devices } = machine();
    const dev = unwrap(devices.add({ name: 'gpu' }));
    dev.translation = {
      translate: (d, busAddr, length, _write, out) => {
        d.dmaRead(busAddr, new Uint8Array(1), 0, 1);
        out.phys = LOW + busAddr;
        return length;
      },
    };
    expect(() => dev.dmaRead(0, new Uint8Array(4), 0, 4)).toThrow(/inside another/);
    dev.translation = devices.directTranslation;
    expect(E.isRight(dev.dmaRead(LOW, new Uint8Array(4), 0, 4))).toBe(true);
  });

  it('DirectTranslation splits a range at the end of a RAM bank', () => {
    const memory = new PhysicalMemory([
      { name: 'a', base: 0, size: 4096 },
      { name: 'b', base: 4096, size: 4096 },
    ]);
    const cache = new CpuCache(memory, new EventBus<CacheEvents>('cache'), new Rng(1));
    const devices = new DeviceRegistry(memory, cache, new EventBus<DeviceEvents>('devices'));
    const dev = unwrap(devices.add({ name: 'd' }));
    const out: TranslationOut = { pasid: -1, phys: 0, error: undefined };
    expect(new DirectTranslation(memory).translate(dev, 4000, 200, true, out)).toBe(96);
    expect(E.isRight(dev.dmaWrite(4000, new Uint8Array(200), 0, 200))).toBe(true);
  });
});

describe('Device: changes and the registry', () => {
  it('DMA property changes emit device-change, and invalid values throw', () => {
    const { devices, seen } = machine();
    const dev = unwrap(devices.add({ name: 'gpu' }));
    seen.length = 0;
    dev.dmaMask = dmaBitMask(40);
    dev.iommu = { instance: 'smmu0', streamId: 7 };
    dev.dmaParms = { ...dev.dmaParms, maxSegmentSize: 1 << 20 };
    expect(seen.map((e) => e.payload)).toEqual([
      { device: 'gpu', field: 'dmaMask', value: 40 },
      { device: 'gpu', field: 'iommu', value: { instance: 'smmu0', streamId: 7 } },
      {
        device: 'gpu',
        field: 'dmaParms',
        value: {
          maxSegmentSize: 1 << 20,
          segmentBoundaryMask: 0xffffffff,
          minAlignMask: 0,
          maxSegmentCount: Number.POSITIVE_INFINITY,
        },
      },
    ]);
    expect(() => {
      dev.dmaParms = { ...dev.dmaParms, segmentBoundaryMask: 0x1000 };
    }).toThrow(RangeError);
    expect(() => {
      dev.busDmaLimit = -1;
    }).toThrow(RangeError);
  });

  it('add / get / list / remove, with device-add and device-remove events', () => {
    const { devices, seen } = machine();
    const a = unwrap(devices.add({ name: 'a', bus: 'pci', coherent: true, dmaMask: 64 }));
    unwrap(devices.add({ name: 'b' }));
    expect(devices.get('a')).toBe(a);
    expect(devices.list().map((d) => d.name)).toEqual(['a', 'b']);
    expect(unwrap(devices.remove('a'))).toBe(a);
    expect(devices.get('a')).toBeUndefined();
    expect(seen.map((e) => e.type)).toEqual(['device-add', 'device-add', 'device-remove']);
    expect(seen[0]?.payload).toEqual({
      device: 'a',
      bus: 'pci',
      coherent: true,
      doesDma: true,
      dmaMaskBits: 64,
      coherentDmaMaskBits: 32,
      busDmaLimit: 0,
      dmaRangeOffset: 0,
    });
  });

  it('a duplicate name is EEXIST, an unknown one ENODEV, and nothing changes', () => {
    const { devices } = machine();
    unwrap(devices.add({ name: 'a' }));
    const dup = devices.add({ name: 'a', dmaMask: 40 });
    expect(E.isLeft(dup) && dup.left.code).toBe('EEXIST');
    expect(devices.get('a')?.dmaMask.bits).toBe(32);
    const gone = devices.remove('zz');
    expect(E.isLeft(gone) && gone.left.code).toBe('ENODEV');
  });

  it('an invalid description is EINVAL naming the field, and registers nothing', () => {
    const { devices } = machine();
    for (const [config, field] of [
      [{ name: '' }, 'name'],
      [{ name: 'a', dmaMask: 65 }, 'dmaMask'],
      [{ name: 'a', coherentDmaMask: 0 }, 'coherentDmaMask'],
      [{ name: 'a', busDmaLimit: -5 }, 'busDmaLimit'],
      [{ name: 'a', dmaRangeOffset: 0.5 }, 'dmaRangeOffset'],
      [{ name: 'a', dmaParms: { maxSegmentSize: 0 } }, 'maxSegmentSize'],
      [{ name: 'a', dmaParms: { maxSegmentSize: 2 ** 32 } }, 'maxSegmentSize'],
      [{ name: 'a', dmaParms: { segmentBoundaryMask: 0xfffe } }, 'segmentBoundaryMask'],
      [{ name: 'a', dmaParms: { minAlignMask: 0x1000 } }, 'minAlignMask'],
      [{ name: 'a', dmaParms: { maxSegmentCount: 0 } }, 'maxSegmentCount'],
    ] as const) {
      const r = devices.add(config);
      expect(E.isLeft(r) && r.left.code).toBe('EINVAL');
      expect(E.isLeft(r) && r.left.message).toContain(field);
    }
    expect(devices.list()).toEqual([]);
  });
});
