import { type DmaDirection, dmaDirectionName as dir } from './direction.js';
import { type DmaDebugEntryType, TYPE_NAMES } from './entry.js';

/** `%016llx`: 16 hex digits, zero-padded. */
const x16 = (n: number): string => `0x${n.toString(16).padStart(16, '0')}`;
const type = (t: DmaDebugEntryType): string => TYPE_NAMES[t];

const syncTail = (addr: number, size: number, mapped: DmaDirection, synced: DmaDirection): string =>
  `[device address=${x16(addr)}] [size=${size} bytes] [mapped with ${dir(mapped)}] [synced with ${dir(synced)}]`;

const access = (write: boolean): string => (write ? 'writes' : 'reads');

/**
 * The findings' message texts, one builder per finding kind. Those of kernel checks reproduce the format strings of
 * `kernel/dma/debug.c` (`0x%016llx` addresses, `%llu` sizes) word for word, including the missing
 * space in "failed to check map error[device address=…]"; the model's own follow the same style.
 */
export const DebugMessages = {
  freeInvalidAddress: (): string => 'device driver tries to free an invalid DMA memory address',

  freeNotAllocated: (addr: number, size: number): string =>
    `device driver tries to free DMA memory it has not allocated [device address=${x16(addr)}] [size=${size} bytes]`,

  freeDifferentSize: (addr: number, mapSize: number, unmapSize: number): string =>
    `device driver frees DMA memory with different size [device address=${x16(addr)}] [map size=${mapSize} bytes] [unmap size=${unmapSize} bytes]`,

  freeWrongFunction: (addr: number, size: number, mapped: DmaDebugEntryType, unmapped: DmaDebugEntryType) =>
    `device driver frees DMA memory with wrong function [device address=${x16(addr)}] [size=${size} bytes] [mapped as ${type(mapped)}] [unmapped as ${type(unmapped)}]`,

  freeDifferentCpuAddress: (addr: number, size: number, allocPhys: number, freePhys: number) =>
    `device driver frees DMA memory with different CPU address [device address=${x16(addr)}] [size=${size} bytes] [cpu alloc address=${x16(allocPhys)}] [cpu free address=${x16(freePhys)}]`,

  freeSgDifferentCount: (mapCount: number, unmapCount: number): string =>
    `device driver frees DMA sg list with different entry count [map count=${mapCount}] [unmap count=${unmapCount}]`,

  freeDifferentDirection: (addr: number, size: number, mapped: DmaDirection, unmapped: DmaDirection) =>
    `device driver frees DMA memory with different direction [device address=${x16(addr)}] [size=${size} bytes] [mapped with ${dir(mapped)}] [unmapped with ${dir(unmapped)}]`,

  mapErrorNotChecked: (addr: number, size: number, mapped: DmaDebugEntryType): string =>
    `device driver failed to check map error[device address=${x16(addr)}] [size=${size} bytes] [mapped as ${type(mapped)}]`,

  syncNotAllocated: (addr: number, size: number): string =>
    `device driver tries to sync DMA memory it has not allocated [device address=${x16(addr)}] [size=${size} bytes]`,

  syncOutsideRange: (entryAddr: number, entrySize: number, offsetPlusSize: number): string =>
    `device driver syncs DMA memory outside allocated range [device address=${x16(entryAddr)}] [allocation size=${entrySize} bytes] [sync offset+size=${offsetPlusSize}]`,

  syncDifferentDirection: (addr: number, size: number, mapped: DmaDirection, synced: DmaDirection) =>
    `device driver syncs DMA memory with different direction ${syncTail(addr, size, mapped, synced)}`,

  syncReadOnlyForCpu: (addr: number, size: number, mapped: DmaDirection, synced: DmaDirection) =>
    `device driver syncs device read-only DMA memory for cpu ${syncTail(addr, size, mapped, synced)}`,

  syncWriteOnlyToDevice: (addr: number, size: number, mapped: DmaDirection, synced: DmaDirection) =>
    `device driver syncs device write-only DMA memory to device ${syncTail(addr, size, mapped, synced)}`,

  syncSgDifferentCount: (mapCount: number, syncCount: number): string =>
    `device driver syncs DMA sg list with different entry count [map count=${mapCount}] [sync count=${syncCount}]`,

  cachelineOverlap: (): string => "cacheline tracking EEXIST, overlapping mappings aren't supported",

  sgSegmentTooLong: (len: number, max: number): string =>
    `mapping sg segment longer than device claims to support [len=${len}] [max=${max}]`,

  sgSegmentBoundary: (start: number, end: number, boundary: number): string =>
    `mapping sg segment across boundary [start=${x16(start)}] [end=${x16(end)}] [boundary=${x16(boundary)}]`,

  pendingAtUnbind: (count: number, addr: number, size: number, d: DmaDirection, t: DmaDebugEntryType) =>
    `device driver has pending DMA allocations while released from device [count=${count}]\nOne of leaked entries details: [device address=${x16(addr)}] [size=${size} bytes] [mapped with ${dir(d)}] [mapped as ${type(t)}]`,

  cpuAccessDeviceOwned: (write: boolean, phys: number, size: number, devAddr: number, d: DmaDirection) =>
    `CPU ${access(write)} DMA memory owned by the device [phys address=${x16(phys)}] [size=${size} bytes] [device address=${x16(devAddr)}] [mapped with ${dir(d)}]`,

  deviceDmaCpuOwned: (write: boolean, addr: number, size: number, d: DmaDirection): string =>
    `device ${access(write)} DMA memory owned by the CPU [device address=${x16(addr)}] [size=${size} bytes] [mapped with ${dir(d)}]`,

  deviceDmaNotMapped: (write: boolean, addr: number, size: number): string =>
    `device ${access(write)} DMA memory it has not mapped [device address=${x16(addr)}] [size=${size} bytes]`,

  deviceDmaWrongDirection: (write: boolean, addr: number, size: number, d: DmaDirection): string =>
    `device ${access(write)} DMA memory against the mapping's direction [device address=${x16(addr)}] [size=${size} bytes] [mapped with ${dir(d)}]`,
};
