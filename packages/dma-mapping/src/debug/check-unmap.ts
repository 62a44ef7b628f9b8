import type { DebugState } from './debug-state.js';
import type { EntryRef } from './entry.js';
import { DebugMessages as M } from './messages.js';

/**
 * `check_unmap()` (`kernel/dma/debug.c`): finds the entry the unmap or free refers to (best fit at
 * the same device address), reports every parameter that differs from the mapping, and removes the
 * entry all the same. With no entry, nothing changes: the unmap is reported as "not allocated"
 * (which is also how a double unmap shows) or, for a `dma_mapping_error()` address, as invalid.
 */
export const checkUnmap = (state: DebugState, ref: EntryRef): void => {
  const name = ref.dev.name;
  const { devAddr, size } = ref;
  const e = state.table.findExact(ref);
  if (e === undefined) {
    if (state.config.isMappingError(ref.dev, devAddr)) {
      state.report('free-invalid-address', name, M.freeInvalidAddress(), { devAddr, size });
    } else {
      state.report('free-not-allocated', name, M.freeNotAllocated(devAddr, size), {
        devAddr,
        size,
        type: ref.type,
      });
    }
    return;
  }
  if (size !== e.size) {
    const detail = { devAddr, mapSize: e.size, unmapSize: size };
    state.report('free-different-size', name, M.freeDifferentSize(devAddr, e.size, size), detail);
  }
  if (ref.type !== e.type) {
    const detail = { devAddr, mappedAs: e.type, unmappedAs: ref.type };
    state.report('free-wrong-function', name, M.freeWrongFunction(devAddr, size, e.type, ref.type), detail);
  } else if ((e.type === 'coherent' || e.type === 'noncoherent') && ref.phys !== e.phys) {
    const detail = { devAddr, allocPhys: e.phys, freePhys: ref.phys };
    state.report(
      'free-different-cpu-address',
      name,
      M.freeDifferentCpuAddress(devAddr, size, e.phys, ref.phys),
      detail,
    );
  }
  if (ref.sgCallEnts !== 0 && ref.type === 'sg' && ref.sgCallEnts !== e.sgCallEnts) {
    const detail = { mapCount: e.sgCallEnts, unmapCount: ref.sgCallEnts };
    state.report(
      'free-sg-different-count',
      name,
      M.freeSgDifferentCount(e.sgCallEnts, ref.sgCallEnts),
      detail,
    );
  }
  if (ref.direction !== e.direction) {
    const detail = { devAddr, mapped: e.direction, unmapped: ref.direction };
    state.report(
      'free-different-direction',
      name,
      M.freeDifferentDirection(devAddr, size, e.direction, ref.direction),
      detail,
    );
  }
  if (e.mapErrType === 'MAP_ERR_NOT_CHECKED') {
    state.report('map-error-not-checked', name, M.mapErrorNotChecked(devAddr, size, e.type), {
      devAddr,
      size,
      type: e.type,
    });
  }
  state.removeEntry(e);
};
