import type { MmCacheAttr } from './cpu-access.js';

/** `VM_READ` (`include/linux/mm.h`): the mapping may be read. */
export const VM_READ = 0x1;
/** `VM_WRITE`: the mapping may be written. */
export const VM_WRITE = 0x2;
/** `VM_EXEC`: the mapping may be executed. */
export const VM_EXEC = 0x4;
/** `VM_SHARED`: stores are visible to every other mapping of the same memory. */
export const VM_SHARED = 0x8;
/** `VM_MAYREAD`: mprotect may add read permission. */
export const VM_MAYREAD = 0x10;
/** `VM_MAYWRITE`: mprotect may add write permission. */
export const VM_MAYWRITE = 0x20;
/** `VM_MAYEXEC`: mprotect may add exec permission. */
export const VM_MAYEXEC = 0x40;
/** `VM_PFNMAP`: raw page frames without `struct page` references, as `remap_pfn_range` sets. */
export const VM_PFNMAP = 0x400;
/** `VM_IO`: memory-mapped I/O or driver memory; never touched by get_user_pages. */
export const VM_IO = 0x4000;
/** `VM_DONTEXPAND`: mremap may not grow the mapping. */
export const VM_DONTEXPAND = 0x40000;
/** `VM_DONTDUMP`: left out of core dumps. */
export const VM_DONTDUMP = 0x4000000;

/** `VM_SPECIAL`: mappings the kernel never merges with their neighbours (`vma_merge`). */
export const VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP;
/** `VM_ACCESS_FLAGS`: any of these lets the CPU read (`vma_is_accessible`). */
export const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;

/** The `PROT_*` bits of an mmap or mprotect call. */
export interface MmProt {
  readonly read: boolean;
  readonly write: boolean;
  readonly exec?: boolean;
}

/**
 * What backs a VMA: anonymous memory (demand-zero pages from the page source), or a fixed list of page
 * frames inserted on fault with a given memory type, as a driver's `mmap` does with `vmf_insert_pfn`
 * (e.g. a dma-buf exporter). `pfns[i]` backs page `i` of the original mapping.
 */
export type VmaBacking =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'pfns'; readonly pfns: readonly number[]; readonly attr: MmCacheAttr };

/**
 * A virtual memory area (`struct vm_area_struct`): `[start, end)` page aligned, with its `VM_*`
 * flags, permissions, backing and name (`anon_vma_name`, empty when unnamed). `pgoff` is `vm_pgoff`:
 * for a pfns backing, the index in `backing.pfns` of the page at `start`; for anonymous memory,
 * `start / PAGE_SIZE` as Linux sets it. VMAs are immutable values: every change makes new ones.
 */
export interface Vma {
  readonly start: number;
  readonly end: number;
  readonly flags: number;
  readonly prot: Required<MmProt>;
  readonly name: string;
  readonly backing: VmaBacking;
  readonly pgoff: number;
  /** The memory type CPU accesses use: 'cached' for anonymous memory, the backing's otherwise. */
  readonly attr: MmCacheAttr;
}

/** `calc_vm_prot_bits` plus the `VM_MAY*` bits every mapping of the model gets. */
export const vmFlagsFor = (prot: MmProt, backing: VmaBacking): number => {
  let flags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (prot.read) flags |= VM_READ;
  if (prot.write) flags |= VM_WRITE;
  if (prot.exec === true) flags |= VM_EXEC;
  // remap_pfn_range's flags; driver mmaps of shared buffers are MAP_SHARED.
  if (backing.kind === 'pfns') flags |= VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP | VM_SHARED;
  return flags;
};

/** The permissions with `exec` made explicit. */
export const normaliseProt = (prot: MmProt): Required<MmProt> => ({
  read: prot.read,
  write: prot.write,
  exec: prot.exec === true,
});

/** `rwx`-style text of a protection, for events and messages. */
export const protString = (prot: MmProt): string =>
  `${prot.read ? 'r' : '-'}${prot.write ? 'w' : '-'}${prot.exec === true ? 'x' : '-'}`;

/**
 * The x86/arm64 `access_error` rule for a CPU access: a write needs VM_WRITE, a read needs any
 * access bit, because a page table cannot express write-only (PROT_WRITE implies readable).
 */
export const cpuMayAccess = (vma: Vma, write: boolean): boolean =>
  write ? (vma.flags & VM_WRITE) !== 0 : (vma.flags & VM_ACCESS_FLAGS) !== 0;

/**
 * `check_vma_flags` (mm/gup.c) for FOLL_PIN without FOLL_FORCE: never VM_IO/VM_PFNMAP, a write pin
 * needs VM_WRITE and a read pin VM_READ (stricter than the CPU: write-only memory cannot be pinned
 * for reading). Returns the reason for refusal, or undefined.
 */
export const gupRefusal = (vma: Vma, write: boolean): string | undefined => {
  if ((vma.flags & (VM_IO | VM_PFNMAP)) !== 0) return 'it is a VM_IO/VM_PFNMAP driver mapping';
  if (write && (vma.flags & VM_WRITE) === 0) return 'it is not writable';
  if (!write && (vma.flags & VM_READ) === 0) return 'it is not readable';
  return undefined;
};

/** The part `[start, end)` of `vma` (inside it), with `vm_pgoff` advanced as `__split_vma` does. */
export const sliceVma = (vma: Vma, start: number, end: number, pageSize: number): Vma =>
  start === vma.start && end === vma.end
    ? vma
    : { ...vma, start, end, pgoff: vma.pgoff + (start - vma.start) / pageSize };

/**
 * `vma_merge`'s test for `b` directly following `a`: same flags, name and backing, page offsets that
 * continue, and neither special (VM_PFNMAP mappings are never merged).
 */
export const canMerge = (a: Vma, b: Vma, pageSize: number): boolean =>
  a.end === b.start &&
  a.flags === b.flags &&
  (a.flags & VM_SPECIAL) === 0 &&
  a.name === b.name &&
  a.backing.kind === b.backing.kind &&
  a.pgoff + (a.end - a.start) / pageSize === b.pgoff;
