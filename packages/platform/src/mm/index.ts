export type { MmCacheAttr, MmCpuAccess } from './cpu-access.js';
export { Mm, type MmapBacking, type MmapOptions, type MmDeps, type MmStats } from './mm.js';
export type { MmEvents } from './mm-events.js';
export { DEFAULT_TASK_SIZE, type MmLayout, mmLayout } from './mm-layout.js';
export type { MmuNotifier, MmuNotifyEvent } from './mmu-notifier.js';
export type { MmPageSource } from './page-source.js';
export { Process, ProcessTable } from './process.js';
export {
  type MmProt,
  VM_ACCESS_FLAGS,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_EXEC,
  VM_IO,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYWRITE,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_SPECIAL,
  VM_WRITE,
  type Vma,
  type VmaBacking,
} from './vma.js';
