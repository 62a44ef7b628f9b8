import { EventBus } from '@sharedbuf/platform';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_DEBUG_DYNAMIC_ENTRIES,
  DmaDebug,
  type DmaDebugDevice,
  type DmaDebugEvents,
  type DmaDebugFindingKind,
  type DmaDebugSgEntry,
  DmaDirection,
} from '../src/debug/index.js';

const { BIDIRECTIONAL, TO_DEVICE, FROM_DEVICE } = DmaDirection;
const MAPPING_ERROR = -1;

let bus: EventBus<DmaDebugEvents>;
let dbg: DmaDebug;
const nic: DmaDebugDevice = { name: 'nic' };
const gpu: DmaDebugDevice = { name: 'gpu' };

const kinds = (): DmaDebugFindingKind[] => dbg.findings().map((f) => f.kind);
const messages = (): string[] => dbg.findings().map((f) => f.message);

/** A page mapped and checked with dma_mapping_error(), as a careful driver does. */
const mapChecked = (
  dev: DmaDebugDevice,
  phys: number,
  size: number,
  dir: DmaDirection,
  addr = phys,
): void => {
  dbg.debugDmaMapPage(dev, phys, size, dir, addr);
  dbg.debugDmaMappingError(dev, addr);
};

const seg = (phys: number, length: number, dmaAddress = phys, dmaLength = length): DmaDebugSgEntry => ({
  phys,
  length,
  dmaAddress,
  dmaLength,
});

beforeEach(() => {
  bus = new EventBus<DmaDebugEvents>('dma-debug');
  dbg = new DmaDebug(bus);
});

describe('DmaDirection', () => {
  it('has the values of enum dma_data_direction (include/linux/dma-direction.h)', () => {
    expect([BIDIRECTIONAL, TO_DEVICE, FROM_DEVICE, DmaDirection.NONE]).toEqual([0, 1, 2, 3]);
  });
});

describe('check_unmap', () => {
  it('unmapping memory that was never mapped is "not allocated" (check_unmap, kernel/dma/debug.c)', () => {
    dbg.debugDmaUnmapPage(nic, 0x1000, 4096, TO_DEVICE);
    expect(dbg.findings()).toEqual([
      {
        kind: 'free-not-allocated',
        device: 'nic',
        message:
          'device driver tries to free DMA memory it has not allocated [device address=0x0000000000001000] [size=4096 bytes]',
        detail: { devAddr: 0x1000, size: 4096, type: 'page' },
      },
    ]);
  });

  it('a double unmap is "not allocated": the first unmap removed the entry (check_unmap, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, TO_DEVICE);
    dbg.debugDmaUnmapPage(nic, 0x1000, 4096, TO_DEVICE);
    expect(kinds()).toEqual([]);
    dbg.debugDmaUnmapPage(nic, 0x1000, 4096, TO_DEVICE);
    expect(kinds()).toEqual(['free-not-allocated']);
  });

  it('unmapping a dma_mapping_error() address is "an invalid DMA memory address" (check_unmap, kernel/dma/debug.c)', () => {
    dbg.debugDmaUnmapSingle(nic, MAPPING_ERROR, 64, TO_DEVICE);
    expect(messages()).toEqual(['device driver tries to free an invalid DMA memory address']);
  });

  it('a mapping whose address is an error is not recorded (debug_dma_map_page, kernel/dma/debug.c)', () => {
    dbg.debugDmaMapPage(nic, 0x1000, 4096, TO_DEVICE, MAPPING_ERROR);
    expect(dbg.dump()).toEqual([]);
  });

  it('the mapping-error predicate is injectable (dma_mapping_error in check_unmap, kernel/dma/debug.c)', () => {
    dbg = new DmaDebug(bus, { isMappingError: (_d, a) => a === 0xdead0000 });
    dbg.debugDmaMapPage(nic, 0x1000, 4096, TO_DEVICE, 0xdead0000);
    dbg.debugDmaUnmapPage(nic, 0xdead0000, 4096, TO_DEVICE);
    expect(kinds()).toEqual(['free-invalid-address']);
  });

  it('unmapping with another size is reported and the entry still goes (check_unmap, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, TO_DEVICE);
    dbg.debugDmaUnmapPage(nic, 0x1000, 2048, TO_DEVICE);
    expect(messages()).toEqual([
      'device driver frees DMA memory with different size [device address=0x0000000000001000] [map size=4096 bytes] [unmap size=2048 bytes]',
    ]);
    expect(dbg.dump()).toEqual([]);
  });

  it('unmapping a single mapping as a page is "wrong function" (check_unmap, kernel/dma/debug.c)', () => {
    dbg.debugDmaMapSingle(nic, 0x1000, 66, TO_DEVICE, 0x1000);
    dbg.debugDmaMappingError(nic, 0x1000);
    dbg.debugDmaUnmapPage(nic, 0x1000, 66, TO_DEVICE);
    expect(messages()).toEqual([
      'device driver frees DMA memory with wrong function [device address=0x0000000000001000] [size=66 bytes] [mapped as single] [unmapped as page]',
    ]);
  });

  it('freeing coherent or noncoherent memory with another CPU address is reported (check_unmap, kernel/dma/debug.c)', () => {
    dbg.debugDmaAllocCoherent(nic, 8192, 0x10000, 0x80000);
    dbg.debugDmaFreeCoherent(nic, 8192, 0x81000, 0x10000);
    dbg.debugDmaAllocPages(nic, 0x90000, 4096, FROM_DEVICE, 0x20000);
    dbg.debugDmaFreePages(nic, 0x91000, 4096, FROM_DEVICE, 0x20000);
    expect(kinds()).toEqual(['free-different-cpu-address', 'free-different-cpu-address']);
    expect(messages()[0]).toBe(
      'device driver frees DMA memory with different CPU address [device address=0x0000000000010000] [size=8192 bytes] [cpu alloc address=0x0000000000080000] [cpu free address=0x0000000000081000]',
    );
  });

  it('unmapping an sg list with another nents is reported, e.g. the mapped count (check_unmap, kernel/dma/debug.c)', () => {
    // Two CPU segments merged by an IOMMU into one DMA segment.
    const sgl = [seg(0x1000, 4096, 0x40000, 8192), seg(0x5000, 4096, 0, 0)];
    dbg.debugDmaMapSg(nic, sgl, 2, 1, TO_DEVICE);
    dbg.debugDmaUnmapSg(nic, sgl, 1, TO_DEVICE);
    expect(messages()).toEqual([
      'device driver frees DMA sg list with different entry count [map count=2] [unmap count=1]',
    ]);
  });

  it('unmapping with another direction is reported (check_unmap, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, TO_DEVICE);
    dbg.debugDmaUnmapPage(nic, 0x1000, 4096, FROM_DEVICE);
    expect(messages()).toEqual([
      'device driver frees DMA memory with different direction [device address=0x0000000000001000] [size=4096 bytes] [mapped with DMA_TO_DEVICE] [unmapped with DMA_FROM_DEVICE]',
    ]);
  });

  it('a mapping never checked with dma_mapping_error() is reported at unmap (check_unmap, kernel/dma/debug.c)', () => {
    dbg.debugDmaMapPage(nic, 0x1000, 4096, TO_DEVICE, 0x1000);
    expect(dbg.lookup(nic, 0x1000)?.mapErrType).toBe('MAP_ERR_NOT_CHECKED');
    dbg.debugDmaUnmapPage(nic, 0x1000, 4096, TO_DEVICE);
    expect(messages()).toEqual([
      'device driver failed to check map error[device address=0x0000000000001000] [size=4096 bytes] [mapped as page]',
    ]);
  });

  it('dma_mapping_error() marks one unchecked entry at that address (debug_dma_mapping_error, kernel/dma/debug.c)', () => {
    dbg.debugDmaMapPage(nic, 0x1000, 4096, TO_DEVICE, 0x1000);
    dbg.debugDmaMapPage(nic, 0x1000, 4096, TO_DEVICE, 0x1000);
    dbg.debugDmaMappingError(nic, 0x1000);
    expect(dbg.dump().map((e) => e.mapErrType)).toEqual(['MAP_ERR_CHECKED', 'MAP_ERR_NOT_CHECKED']);
  });

  it('sg, coherent and noncoherent mappings need no error check (MAP_ERR_CHECK_NOT_APPLICABLE, kernel/dma/debug.c)', () => {
    dbg.debugDmaMapSg(nic, [seg(0x1000, 4096)], 1, 1, TO_DEVICE);
    dbg.debugDmaAllocCoherent(nic, 4096, 0x10000, 0x80000);
    dbg.debugDmaAllocPages(nic, 0x90000, 4096, TO_DEVICE, 0x20000);
    expect(new Set(dbg.dump().map((e) => e.mapErrType))).toEqual(new Set(['MAP_ERR_CHECK_NOT_APPLICABLE']));
    dbg.debugDmaUnmapSg(nic, [seg(0x1000, 4096)], 1, TO_DEVICE);
    dbg.debugDmaFreeCoherent(nic, 4096, 0x80000, 0x10000);
    dbg.debugDmaFreePages(nic, 0x90000, 4096, TO_DEVICE, 0x20000);
    expect(kinds()).toEqual([]);
  });

  it('of several entries at one address a perfect fit is taken (__hash_bucket_find, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, TO_DEVICE);
    mapChecked(nic, 0x1000, 2048, BIDIRECTIONAL);
    dbg.debugDmaUnmapPage(nic, 0x1000, 2048, BIDIRECTIONAL);
    expect(kinds()).toEqual([]);
    expect(dbg.dump().map((e) => e.size)).toEqual([4096]);
  });

  it('several imperfect fits at one address give no match: "not allocated" (__hash_bucket_find, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, TO_DEVICE);
    mapChecked(nic, 0x1000, 2048, TO_DEVICE);
    const before = dbg.dump();
    dbg.debugDmaUnmapPage(nic, 0x1000, 1024, TO_DEVICE);
    expect(kinds()).toEqual(['free-not-allocated']);
    expect(dbg.dump()).toEqual(before);
  });

  it('a failed unmap changes no other entry (check_unmap returns before hash_bucket_del, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, FROM_DEVICE);
    mapChecked(gpu, 0x1000, 4096, TO_DEVICE);
    dbg.debugDmaSyncSingleForCpu(nic, 0x1000, 100, FROM_DEVICE);
    const before = dbg.dump();
    dbg.debugDmaUnmapPage(nic, 0x3000, 4096, FROM_DEVICE);
    dbg.debugDmaUnmapSg(gpu, [seg(0x7000, 64)], 1, TO_DEVICE);
    expect(kinds()).toEqual(['free-not-allocated', 'free-not-allocated']);
    expect(dbg.dump()).toEqual(before);
  });

  it('unmap_sg stops after the mapped segments (debug_dma_unmap_sg, kernel/dma/debug.c)', () => {
    const sgl = [seg(0x1000, 4096, 0x40000, 8192), seg(0x2000, 4096, 0x99000, 4096)];
    dbg.debugDmaMapSg(nic, sgl, 2, 1, FROM_DEVICE);
    dbg.debugDmaUnmapSg(nic, sgl, 2, FROM_DEVICE);
    expect(kinds()).toEqual([]);
    expect(dbg.dump()).toEqual([]);
  });
});

describe('check_sync', () => {
  it('syncing memory that is not mapped is "not allocated" (check_sync, kernel/dma/debug.c)', () => {
    dbg.debugDmaSyncSingleForCpu(nic, 0x5000, 64, FROM_DEVICE);
    expect(messages()).toEqual([
      'device driver tries to sync DMA memory it has not allocated [device address=0x0000000000005000] [size=64 bytes]',
    ]);
  });

  it('a partial sync inside a mapping is accepted (containing_match, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, FROM_DEVICE);
    dbg.debugDmaSyncSingleForCpu(nic, 0x1800, 256, FROM_DEVICE);
    dbg.debugDmaSyncSingleForDevice(nic, 0x1800, 256, FROM_DEVICE);
    expect(kinds()).toEqual([]);
  });

  it('a sync running past the end of its mapping is "outside allocated range" (check_sync, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, FROM_DEVICE);
    dbg.debugDmaSyncSingleForCpu(nic, 0x1f00, 512, FROM_DEVICE);
    expect(messages()).toEqual([
      'device driver syncs DMA memory outside allocated range [device address=0x0000000000001000] [allocation size=4096 bytes] [sync offset+size=4352]',
    ]);
    expect(dbg.lookup(nic, 0x1000)?.cpuOwnedRanges).toEqual([{ offset: 0xf00, size: 0x100 }]);
  });

  it('syncing in another direction is reported (check_sync, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, FROM_DEVICE);
    dbg.debugDmaSyncSingleForCpu(nic, 0x1000, 4096, TO_DEVICE);
    expect(messages()).toEqual([
      'device driver syncs DMA memory with different direction [device address=0x0000000000001000] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [synced with DMA_TO_DEVICE]',
    ]);
  });

  it('syncing TO_DEVICE memory for the CPU as FROM_DEVICE is "device read-only" (check_sync, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, TO_DEVICE);
    dbg.debugDmaSyncSingleForCpu(nic, 0x1000, 4096, TO_DEVICE);
    expect(kinds()).toEqual([]);
    dbg.debugDmaSyncSingleForCpu(nic, 0x1000, 4096, FROM_DEVICE);
    expect(kinds()).toEqual(['sync-different-direction', 'sync-read-only-for-cpu']);
    expect(messages()[1]).toBe(
      'device driver syncs device read-only DMA memory for cpu [device address=0x0000000000001000] [size=4096 bytes] [mapped with DMA_TO_DEVICE] [synced with DMA_FROM_DEVICE]',
    );
  });

  it('syncing FROM_DEVICE memory for the device as TO_DEVICE is "device write-only" (check_sync, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, FROM_DEVICE);
    dbg.debugDmaSyncSingleForDevice(nic, 0x1000, 4096, FROM_DEVICE);
    expect(kinds()).toEqual([]);
    dbg.debugDmaSyncSingleForDevice(nic, 0x1000, 4096, TO_DEVICE);
    expect(kinds()).toEqual(['sync-different-direction', 'sync-write-only-to-device']);
    expect(messages()[1]).toBe(
      'device driver syncs device write-only DMA memory to device [device address=0x0000000000001000] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [synced with DMA_TO_DEVICE]',
    );
  });

  it('a BIDIRECTIONAL mapping may be synced in any direction (check_sync, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, BIDIRECTIONAL);
    dbg.debugDmaSyncSingleForCpu(nic, 0x1000, 4096, TO_DEVICE);
    dbg.debugDmaSyncSingleForDevice(nic, 0x1000, 4096, FROM_DEVICE);
    expect(kinds()).toEqual([]);
  });

  it('syncing an sg list with another nents is reported (check_sync, kernel/dma/debug.c)', () => {
    const sgl = [seg(0x1000, 4096), seg(0x3000, 4096)];
    dbg.debugDmaMapSg(nic, sgl, 2, 2, FROM_DEVICE);
    dbg.debugDmaSyncSgForCpu(nic, sgl, 2, FROM_DEVICE);
    expect(kinds()).toEqual([]);
    dbg.debugDmaSyncSgForDevice(nic, sgl, 1, FROM_DEVICE);
    expect(messages()).toEqual([
      'device driver syncs DMA sg list with different entry count [map count=2] [sync count=1]',
    ]);
  });

  it('syncing an sg list whose first element is unknown checks nothing (debug_dma_sync_sg_for_cpu, kernel/dma/debug.c)', () => {
    dbg.debugDmaSyncSgForCpu(nic, [seg(0x1000, 4096)], 1, FROM_DEVICE);
    expect(kinds()).toEqual([]);
  });

  it('the containing lookup takes the nearest hash bucket first (bucket_find_contain, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x100000, 0x10000, FROM_DEVICE);
    mapChecked(nic, 0x200000, 0x1000, TO_DEVICE, 0x104000);
    // Both contain the range; the TO_DEVICE entry sits in the range's own bucket, so it is chosen.
    dbg.debugDmaSyncSingleForCpu(nic, 0x104100, 16, FROM_DEVICE);
    expect(kinds()).toEqual(['sync-different-direction', 'sync-read-only-for-cpu']);
  });
});

describe('add_dma_entry', () => {
  it('two device-writable mappings starting in one cacheline are reported (active_cacheline_insert, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 32, FROM_DEVICE);
    mapChecked(gpu, 0x1020, 32, BIDIRECTIONAL);
    expect(dbg.findings()).toEqual([
      {
        kind: 'cacheline-overlap',
        device: 'gpu',
        message: "cacheline tracking EEXIST, overlapping mappings aren't supported",
        detail: { cacheline: 0x1000, devAddr: 0x1020, size: 32, direction: BIDIRECTIONAL },
      },
    ]);
  });

  it('TO_DEVICE mappings and DMA_ATTR_SKIP_CPU_SYNC are exempt from the cacheline check (add_dma_entry, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 32, FROM_DEVICE);
    mapChecked(gpu, 0x1000, 32, TO_DEVICE);
    dbg.debugDmaMapPage(gpu, 0x1010, 16, FROM_DEVICE, 0x1010, DMA_ATTR_SKIP_CPU_SYNC);
    expect(kinds()).toEqual([]);
  });

  it('the cacheline is free again once its mapping is unmapped (active_cacheline_remove, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 32, FROM_DEVICE);
    dbg.debugDmaUnmapPage(nic, 0x1000, 32, FROM_DEVICE);
    mapChecked(gpu, 0x1000, 32, FROM_DEVICE);
    expect(kinds()).toEqual([]);
  });
});

describe('check_sg_segment', () => {
  const limited: DmaDebugDevice = {
    name: 'isp',
    dmaParms: { maxSegmentSize: 4096, segmentBoundaryMask: 0xffff },
  };

  it('an sg segment longer than the device supports is reported (check_sg_segment, kernel/dma/debug.c)', () => {
    dbg.debugDmaMapSg(limited, [seg(0x1000, 8192)], 1, 1, TO_DEVICE);
    expect(messages()).toEqual([
      'mapping sg segment longer than device claims to support [len=8192] [max=4096]',
    ]);
  });

  it('an sg segment across the segment boundary is reported (check_sg_segment, kernel/dma/debug.c)', () => {
    dbg.debugDmaMapSg(limited, [seg(0x1000, 4096, 0xf800, 4096)], 1, 1, TO_DEVICE);
    expect(messages()).toEqual([
      'mapping sg segment across boundary [start=0x000000000000f800] [end=0x00000000000107ff] [boundary=0x000000000000ffff]',
    ]);
  });

  it('without dma_parms segments may be 64 KiB and cross any boundary (dma_get_max_seg_size, include/linux/dma-mapping.h)', () => {
    dbg.debugDmaMapSg(nic, [seg(0x0, 65536, 0xf800, 65536)], 1, 1, TO_DEVICE);
    expect(kinds()).toEqual([]);
    dbg.debugDmaMapSg(nic, [seg(0x100000, 65537)], 1, 1, TO_DEVICE);
    expect(kinds()).toEqual(['sg-segment-too-long']);
  });
});

describe('dma_debug_device_change', () => {
  it('mappings still held when the driver unbinds are reported with a count (dma_debug_device_change, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, TO_DEVICE);
    mapChecked(nic, 0x4000, 512, FROM_DEVICE);
    mapChecked(gpu, 0x9000, 4096, TO_DEVICE);
    dbg.debugDeviceUnbind(nic);
    expect(messages()).toEqual([
      'device driver has pending DMA allocations while released from device [count=2]\nOne of leaked entries details: [device address=0x0000000000004000] [size=512 bytes] [mapped with DMA_FROM_DEVICE] [mapped as page]',
    ]);
    expect(dbg.findings()[0]?.detail.count).toBe(2);
    expect(dbg.dump(nic)).toHaveLength(2);
  });

  it('a device with no mappings unbinds silently (dma_debug_device_change, kernel/dma/debug.c)', () => {
    mapChecked(nic, 0x1000, 4096, TO_DEVICE);
    dbg.debugDmaUnmapPage(nic, 0x1000, 4096, TO_DEVICE);
    dbg.debugDeviceUnbind(nic);
    dbg.debugDeviceUnbind(gpu);
    expect(kinds()).toEqual([]);
  });
});

describe('ownership (model, Documentation/core-api/dma-api-howto.rst)', () => {
  it('map gives the buffer to the device, sync_for_cpu to the CPU, sync_for_device back, unmap to the CPU', () => {
    mapChecked(nic, 0x1000, 4096, BIDIRECTIONAL);
    expect(dbg.lookup(nic, 0x1000)?.owner).toBe('device');
    dbg.debugCpuAccess(undefined, 0x1000, 4, false);
    expect(kinds()).toEqual(['cpu-access-device-owned']);
    dbg.debugDmaSyncSingleForCpu(nic, 0x1000, 4096, BIDIRECTIONAL);
    expect(dbg.lookup(nic, 0x1000)?.owner).toBe('cpu');
    dbg.debugCpuAccess(undefined, 0x1000, 4096, true);
    dbg.debugDeviceDma(nic, 0x1000, 4, true);
    expect(kinds()).toEqual(['cpu-access-device-owned', 'device-dma-cpu-owned']);
    dbg.debugDmaSyncSingleForDevice(nic, 0x1000, 4096, BIDIRECTIONAL);
    dbg.debugDeviceDma(nic, 0x1000, 4096, true);
    expect(kinds()).toHaveLength(2);
    dbg.debugDmaUnmapPage(nic, 0x1000, 4096, BIDIRECTIONAL);
    dbg.debugCpuAccess(undefined, 0x1000, 4096, true);
    dbg.debugDeviceDma(nic, 0x1000, 4, true);
    expect(kinds()).toEqual(['cpu-access-device-owned', 'device-dma-cpu-owned', 'device-dma-not-mapped']);
  });

  it('a CPU access to device-owned memory names the first such byte (model)', () => {
    mapChecked(nic, 0x1000, 4096, FROM_DEVICE);
    dbg.debugDmaSyncSingleForCpu(nic, 0x1000, 256, FROM_DEVICE);
    dbg.debugCpuAccess(undefined, 0x1000, 256, false);
    expect(kinds()).toEqual([]);
    dbg.debugCpuAccess(undefined, 0x1080, 512, false);
    expect(dbg.findings()[0]).toEqual({
      kind: 'cpu-access-device-owned',
      device: 'nic',
      message:
        'CPU reads DMA memory owned by the device [phys address=0x0000000000001100] [size=512 bytes] [device address=0x0000000000001100] [mapped with DMA_FROM_DEVICE]',
      detail: {
        physAddr: 0x1080,
        size: 512,
        write: false,
        firstPhys: 0x1100,
        devAddr: 0x1100,
        entryAddr: 0x1000,
        entrySize: 4096,
        direction: FROM_DEVICE,
      },
    });
  });

  it('a CPU access checks the given device only, or every device (model)', () => {
    mapChecked(nic, 0x1000, 4096, TO_DEVICE, 0x8000_0000);
    dbg.debugCpuAccess(gpu, 0x1000, 16, false);
    expect(kinds()).toEqual([]);
    dbg.debugCpuAccess(nic, 0x1000, 16, false);
    dbg.debugCpuAccess(undefined, 0x1ff0, 32, false);
    expect(kinds()).toEqual(['cpu-access-device-owned', 'cpu-access-device-owned']);
  });

  it('a device may only access its own mappings, in their direction (model; dma_info_to_prot, drivers/iommu/dma-iommu.c)', () => {
    mapChecked(nic, 0x1000, 4096, TO_DEVICE);
    dbg.debugDeviceDma(nic, 0x1000, 4096, false);
    expect(kinds()).toEqual([]);
    dbg.debugDeviceDma(nic, 0x1000, 4, true);
    dbg.debugDeviceDma(gpu, 0x1000, 4, false);
    dbg.debugDeviceDma(nic, 0x1ff0, 32, false);
    expect(kinds()).toEqual(['device-dma-wrong-direction', 'device-dma-not-mapped', 'device-dma-not-mapped']);
    expect(dbg.findings()[2]?.detail.firstAddr).toBe(0x2000);
    expect(messages()[0]).toBe(
      "device writes DMA memory against the mapping's direction [device address=0x0000000000001000] [size=4 bytes] [mapped with DMA_TO_DEVICE]",
    );
  });

  it('coherent memory is shared: no ownership findings either way (model; dma-api-howto.rst "consistent DMA")', () => {
    dbg.debugDmaAllocCoherent(nic, 4096, 0x10000, 0x80000);
    dbg.debugCpuAccess(undefined, 0x80000, 4096, true);
    dbg.debugDeviceDma(nic, 0x10000, 4096, true);
    dbg.debugDeviceDma(nic, 0x10000, 4096, false);
    expect(kinds()).toEqual([]);
    expect(dbg.lookup(nic, 0x10000)?.owner).toBe('shared');
  });

  it('noncoherent memory starts with the CPU and must be synced for the device (model; dma-api.rst dma_alloc_pages)', () => {
    dbg.debugDmaAllocPages(nic, 0x90000, 4096, TO_DEVICE, 0x20000);
    dbg.debugCpuAccess(undefined, 0x90000, 4096, true);
    dbg.debugDeviceDma(nic, 0x20000, 4096, false);
    expect(kinds()).toEqual(['device-dma-cpu-owned']);
    dbg.debugDmaSyncSingleForDevice(nic, 0x20000, 4096, TO_DEVICE);
    dbg.debugDeviceDma(nic, 0x20000, 4096, false);
    expect(kinds()).toEqual(['device-dma-cpu-owned']);
  });

  it('an sg segment merged by an IOMMU covers the physical bytes of every CPU segment it carries (model)', () => {
    const sgl = [seg(0x1000, 4096, 0x40000, 8192), seg(0x7000, 4096, 0, 0)];
    dbg.debugDmaMapSg(nic, sgl, 2, 1, FROM_DEVICE);
    dbg.debugCpuAccess(undefined, 0x7010, 4, false);
    expect(dbg.findings()[0]?.detail.devAddr).toBe(0x41010);
    dbg.debugDmaSyncSgForCpu(nic, sgl, 2, FROM_DEVICE);
    dbg.debugCpuAccess(undefined, 0x7010, 4, false);
    dbg.debugCpuAccess(undefined, 0x1000, 4096, false);
    expect(kinds()).toEqual(['cpu-access-device-owned']);
  });
});

describe('switch, findings and counters', () => {
  it('switched off, every hook returns at once (dma_debug_disabled, kernel/dma/debug.c)', () => {
    dbg = new DmaDebug(bus, { enabled: false });
    dbg.debugDmaMapPage(nic, 0x1000, 4096, TO_DEVICE, 0x1000);
    dbg.debugDmaUnmapPage(nic, 0x9000, 4096, TO_DEVICE);
    dbg.debugDmaSyncSingleForCpu(nic, 0x9000, 4, TO_DEVICE);
    dbg.debugDeviceDma(nic, 0x9000, 4, true);
    expect(dbg.dump()).toEqual([]);
    expect(kinds()).toEqual([]);
    dbg.enabled = true;
    dbg.debugDmaUnmapPage(nic, 0x9000, 4096, TO_DEVICE);
    expect(kinds()).toEqual(['free-not-allocated']);
    expect(dbg.stats().disabled).toBe(false);
  });

  it('findings are emitted as events and kept until clear(); error_count keeps counting (err_printk, kernel/dma/debug.c)', () => {
    const seen: string[] = [];
    bus.on('finding', (f) => seen.push(f.kind));
    bus.on('findings-cleared', ({ count }) => seen.push(`cleared ${count}`));
    dbg.debugDmaUnmapPage(nic, 0x1000, 4096, TO_DEVICE);
    dbg.clear();
    expect(dbg.findings()).toEqual([]);
    expect(seen).toEqual(['free-not-allocated', 'cleared 1']);
    expect(dbg.stats().errorCount).toBe(1);
  });

  it('every state change is an event (model)', () => {
    const seen: string[] = [];
    bus.tap((_s, type) => seen.push(type));
    dbg.debugDmaMapPage(nic, 0x1000, 4096, FROM_DEVICE, 0x1000);
    dbg.debugDmaMappingError(nic, 0x1000);
    dbg.debugDmaSyncSingleForCpu(nic, 0x1000, 4096, FROM_DEVICE);
    dbg.debugDmaUnmapPage(nic, 0x1000, 4096, FROM_DEVICE);
    dbg.enabled = false;
    expect(seen).toEqual(['entry-add', 'map-error-checked', 'ownership', 'entry-remove', 'enabled']);
  });

  it('the pool counters follow dma_entry_alloc()/dma_entry_free() (kernel/dma/debug.c)', () => {
    dbg = new DmaDebug(bus, { preallocEntries: 2 });
    expect(dbg.stats()).toMatchObject({ nrTotalEntries: DMA_DEBUG_DYNAMIC_ENTRIES, numFreeEntries: 32 });
    for (let i = 0; i < 33; i++) mapChecked(nic, i * 0x1000, 4096, TO_DEVICE);
    expect(dbg.stats()).toMatchObject({
      nrTotalEntries: 64,
      numFreeEntries: 31,
      minFreeEntries: 0,
      activeEntries: 33,
    });
    dbg.debugDmaUnmapPage(nic, 0, 4096, TO_DEVICE);
    expect(dbg.stats()).toMatchObject({ numFreeEntries: 32, minFreeEntries: 0, activeEntries: 32 });
  });
});
