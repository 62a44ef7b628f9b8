import type { MmuNotifyEvent } from './mmu-notifier.js';

/**
 * The events of the process layer (the mm bus). Addresses are user virtual addresses; `prot` is
 * `rwx`-style text. Every payload is plain JSON data.
 */
export type MmEvents = {
  /** A process was created (`fork`+`exec` of a fresh address space). */
  spawn: { pid: number; name: string };
  /** A mapping was created at `[start, end)` (`do_mmap`). */
  mmap: {
    pid: number;
    start: number;
    end: number;
    prot: string;
    backing: 'anonymous' | 'pfns';
    name: string;
    fixed: boolean;
  };
  /** `[start, end)` was unmapped (`do_vmi_munmap`); emitted only when something was mapped there. */
  munmap: { pid: number; start: number; end: number };
  /** The protection of `[start, end)` changed (`mprotect_fixup`). */
  mprotect: { pid: number; start: number; end: number; prot: string };
  /** A page was populated by a demand fault (`handle_mm_fault`); `va` is the page's address. */
  fault: { pid: number; va: number; write: boolean; pfn: number };
  /** `nrPages` pages from `va` were pinned (`pin_user_pages`). */
  pin: { pid: number; va: number; nrPages: number; write: boolean; pfns: number[] };
  /** Pages were unpinned (`unpin_user_pages`). */
  unpin: { pid: number; pfns: number[] };
  /** MMU notifiers were told `[start, end)` is being invalidated, before its pages are released. */
  'notifier-invalidate': { pid: number; start: number; end: number; event: MmuNotifyEvent };
  /** The address space was torn down (`exit_mmap`); `pagesReleased` page-table entries were dropped. */
  exit: { pid: number; pagesReleased: number };
};
