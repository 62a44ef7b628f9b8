import type { DebugState } from './debug-state.js';
import type { DmaDebugDevice } from './device.js';
import { DebugMessages as M } from './messages.js';
import { findCpuAccessViolation, findDeviceAccessViolation } from './ownership-checks.js';

/**
 * The model's own CPU-access check (no kernel counterpart; rules of
 * Documentation/core-api/dma-api-howto.rst): one `cpu-access-device-owned` finding when any byte of
 * physical `[physAddr, physAddr + size)` belongs to a streaming or noncoherent mapping (of `dev`, or
 * of any device) that the device owns, naming the lowest such byte. Allocates nothing when clean.
 */
export const checkCpuAccess = (
  state: DebugState,
  dev: DmaDebugDevice | undefined,
  physAddr: number,
  size: number,
  write: boolean,
): void => {
  const v = findCpuAccessViolation(state.table.byPhys, dev, physAddr, size);
  if (v === undefined) return;
  const e = v.piece.entry;
  const devAddr = e.devAddr + v.piece.offset + (v.phys - v.piece.start);
  const msg = M.cpuAccessDeviceOwned(write, v.phys, size, devAddr, e.direction);
  state.report('cpu-access-device-owned', e.dev.name, msg, {
    physAddr,
    size,
    write,
    firstPhys: v.phys,
    devAddr,
    entryAddr: e.devAddr,
    entrySize: e.size,
    direction: e.direction,
  });
};

/**
 * The model's own device-access check: one finding for the first byte of bus
 * `[busAddr, busAddr + size)` that lies in no mapping of `dev` (`device-dma-not-mapped`), only in
 * mappings whose direction forbids the access (`device-dma-wrong-direction`, after
 * `dma_info_to_prot()` in drivers/iommu/dma-iommu.c), or only in ones the CPU owns
 * (`device-dma-cpu-owned`). Allocates nothing when clean.
 */
export const checkDeviceDma = (
  state: DebugState,
  dev: DmaDebugDevice,
  busAddr: number,
  size: number,
  write: boolean,
): void => {
  const v = findDeviceAccessViolation(state.table.deviceIndex(dev), busAddr, size, write);
  if (v === undefined) return;
  if (v.entry === undefined) {
    const detail = { busAddr, size, write, firstAddr: v.addr };
    state.report('device-dma-not-mapped', dev.name, M.deviceDmaNotMapped(write, busAddr, size), detail);
    return;
  }
  const { direction } = v.entry;
  const detail = {
    busAddr,
    size,
    write,
    firstAddr: v.addr,
    entryAddr: v.entry.devAddr,
    entrySize: v.entry.size,
    direction,
  };
  if (v.fault === 'wrong-direction') {
    state.report(
      'device-dma-wrong-direction',
      dev.name,
      M.deviceDmaWrongDirection(write, busAddr, size, direction),
      detail,
    );
  } else {
    state.report(
      'device-dma-cpu-owned',
      dev.name,
      M.deviceDmaCpuOwned(write, busAddr, size, direction),
      detail,
    );
  }
};
