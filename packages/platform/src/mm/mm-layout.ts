import { alignDown, alignUp, hex, PAGE_SIZE, pow2 } from '../core/address.js';

/**
 * The shape of a user address space, as `arch_pick_mmap_layout` leaves it in `mm_struct` (x86-64
 * values, no randomisation, so placement is deterministic).
 */
export interface MmLayout {
  /** `TASK_SIZE`: user addresses are below this. Default 2^47 − 4 KiB (x86-64 `TASK_SIZE_MAX`). */
  readonly taskSize: number;
  /** `mm->mmap_base`: top-down placement ends at or below this. Default `taskSize` − 128 MiB (`MIN_GAP`). */
  readonly mmapBase: number;
  /** `TASK_UNMAPPED_BASE`: start of the bottom-up fallback search. Default `PAGE_ALIGN(taskSize / 3)`. */
  readonly unmappedBase: number;
  /** `vm.mmap_min_addr`: lowest address a mapping may use. Default 64 KiB. */
  readonly mmapMinAddr: number;
  /** `vm.max_map_count`: most VMAs an mm may hold. Default 65530 (`DEFAULT_MAX_MAP_COUNT`). */
  readonly maxMapCount: number;
}

/** `MIN_GAP` of mm/util.c: the room `mmap_base` leaves for the stack. */
const MIN_GAP = 128 * 1024 * 1024;

/** x86-64's 47-bit user space. */
export const DEFAULT_TASK_SIZE = pow2(47) - PAGE_SIZE;

/**
 * A complete layout from a partial one; unspecified fields derive from `taskSize` as Linux does.
 * @throws RangeError on an inconsistent layout (a machine description bug).
 */
export const mmLayout = (partial: Partial<MmLayout> = {}): MmLayout => {
  const taskSize = partial.taskSize ?? DEFAULT_TASK_SIZE;
  const layout: MmLayout = {
    taskSize,
    mmapBase: partial.mmapBase ?? alignDown(Math.max(taskSize - MIN_GAP, taskSize / 2), PAGE_SIZE),
    unmappedBase: partial.unmappedBase ?? alignUp(Math.floor(taskSize / 3), PAGE_SIZE),
    mmapMinAddr: partial.mmapMinAddr ?? 65536,
    maxMapCount: partial.maxMapCount ?? 65530,
  };
  const aligned = [layout.taskSize, layout.mmapBase, layout.unmappedBase, layout.mmapMinAddr];
  if (aligned.some((a) => !Number.isSafeInteger(a) || a < 0 || a % PAGE_SIZE !== 0)) {
    throw new RangeError('mm layout: addresses must be page-aligned safe integers');
  }
  if (!(layout.mmapMinAddr < layout.mmapBase && layout.mmapBase <= layout.taskSize)) {
    throw new RangeError(
      `mm layout: need mmapMinAddr < mmapBase <= taskSize, got ${hex(layout.mmapMinAddr)}, ${hex(layout.mmapBase)}, ${hex(layout.taskSize)}`,
    );
  }
  if (!Number.isInteger(layout.maxMapCount) || layout.maxMapCount < 1) {
    throw new RangeError('mm layout: maxMapCount must be a positive integer');
  }
  return layout;
};
