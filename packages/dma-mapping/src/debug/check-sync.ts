import type { DebugState } from './debug-state.js';
import { DmaDirection } from './direction.js';
import type { EntryRef, TrackedEntry } from './entry.js';
import { DebugMessages as M } from './messages.js';

/**
 * `check_sync()` (`kernel/dma/debug.c`), then the model's ownership transfer: the part of the synced
 * range inside the mapping goes to the CPU (`toCpu`) or to the device.
 *
 * Where the range starts inside a mapping but runs past its end, the kernel (whose lookup needs a
 * mapping covering the whole range) reports "not allocated", leaving its "outside allocated range"
 * message unreachable; the model reports that message instead and goes on with the mapping.
 */
export const checkSync = (state: DebugState, ref: EntryRef, toCpu: boolean): void => {
  let e = state.table.findContaining(ref);
  if (e === undefined) {
    e = state.table.findCoveringStart(ref);
    if (e === undefined) {
      const detail = { devAddr: ref.devAddr, size: ref.size };
      state.report('sync-not-allocated', ref.dev.name, M.syncNotAllocated(ref.devAddr, ref.size), detail);
      return;
    }
    const reach = ref.devAddr - e.devAddr + ref.size;
    const detail = { devAddr: ref.devAddr, size: ref.size, entryAddr: e.devAddr, entrySize: e.size };
    state.report('sync-outside-range', ref.dev.name, M.syncOutsideRange(e.devAddr, e.size, reach), detail);
  }
  checkSyncDirection(state, ref, e, toCpu);
  const found = e;
  // The kernel cannot tell identical mappings apart (same device, address, size and direction:
  // e.g. two attachments of one device to one dma-buf), so a sync hands all of them over.
  for (const twin of state.table.entries(ref.dev)) {
    if (twin === found || isTwin(twin, found)) transferOwnership(state, twin, ref.devAddr, ref.size, toCpu);
  }
};

const isTwin = (a: TrackedEntry, b: TrackedEntry): boolean =>
  a.devAddr === b.devAddr && a.size === b.size && a.direction === b.direction && a.type === b.type;

/** The direction and sg-count checks of `check_sync()`; a BIDIRECTIONAL mapping skips them all. */
const checkSyncDirection = (state: DebugState, ref: EntryRef, e: TrackedEntry, toCpu: boolean): void => {
  if (e.direction === DmaDirection.BIDIRECTIONAL) return;
  const name = ref.dev.name;
  const mapped = e.direction;
  const synced = ref.direction;
  const detail = { devAddr: ref.devAddr, size: e.size, mapped, synced };
  if (synced !== mapped) {
    state.report(
      'sync-different-direction',
      name,
      M.syncDifferentDirection(ref.devAddr, e.size, mapped, synced),
      detail,
    );
  }
  if (toCpu && mapped !== DmaDirection.FROM_DEVICE && synced !== DmaDirection.TO_DEVICE) {
    state.report(
      'sync-read-only-for-cpu',
      name,
      M.syncReadOnlyForCpu(ref.devAddr, e.size, mapped, synced),
      detail,
    );
  }
  if (!toCpu && mapped !== DmaDirection.TO_DEVICE && synced !== DmaDirection.FROM_DEVICE) {
    state.report(
      'sync-write-only-to-device',
      name,
      M.syncWriteOnlyToDevice(ref.devAddr, e.size, mapped, synced),
      detail,
    );
  }
  if (ref.sgCallEnts !== 0 && ref.type === 'sg' && ref.sgCallEnts !== e.sgCallEnts) {
    const counts = { mapCount: e.sgCallEnts, syncCount: ref.sgCallEnts };
    state.report(
      'sync-sg-different-count',
      name,
      M.syncSgDifferentCount(e.sgCallEnts, ref.sgCallEnts),
      counts,
    );
  }
};

/** Hands the part of `[devAddr, devAddr + size)` inside the mapping to the CPU or the device. */
const transferOwnership = (
  state: DebugState,
  e: TrackedEntry,
  devAddr: number,
  size: number,
  toCpu: boolean,
) => {
  if (e.ownership === undefined) return;
  const start = Math.max(devAddr, e.start) - e.start;
  const end = Math.min(devAddr + size, e.end) - e.start;
  if (end <= start) return;
  if (toCpu) e.ownership.claim(start, end);
  else e.ownership.release(start, end);
  if (state.bus.active) {
    const owner = toCpu ? 'cpu' : 'device';
    state.bus.emit('ownership', {
      device: e.dev.name,
      entryAddr: e.devAddr,
      devAddr: e.start + start,
      size: end - start,
      owner,
    });
  }
};
