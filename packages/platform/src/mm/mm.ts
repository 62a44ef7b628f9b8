import * as E from 'fp-ts/lib/Either.js';
import { alignDown, alignUp, hex, PAGE_SIZE } from '../core/address.js';
import type { EventBus } from '../core/event-bus.js';
import { fail, type KResult, ok } from '../core/kernel-error.js';
import type { MmCacheAttr, MmCpuAccess } from './cpu-access.js';
import type { MmEvents } from './mm-events.js';
import { type MmLayout, mmLayout } from './mm-layout.js';
import { type MmuNotifier, MmuNotifierList, type MmuNotifyEvent } from './mmu-notifier.js';
import type { MmPageSource } from './page-source.js';
import { unmappedArea, unmappedAreaTopdown } from './unmapped-area.js';
import { UserPageTable } from './user-page-table.js';
import {
  cpuMayAccess,
  gupRefusal,
  type MmProt,
  normaliseProt,
  protString,
  VM_ACCESS_FLAGS,
  type Vma,
  type VmaBacking,
  vmFlagsFor,
} from './vma.js';
import { carve, insertMerged, overlapsAny, vmaIndexOf } from './vma-list.js';

const OK: KResult<void> = ok(undefined);
const ANONYMOUS: VmaBacking = { kind: 'anonymous' };
const ignorePage = (): void => {};

/** What backs a new mapping: anonymous memory, or given page frames with a memory type (default 'cached'). */
export type MmapBacking =
  | { kind: 'anonymous' }
  | { kind: 'pfns'; pfns: readonly number[]; attr?: MmCacheAttr };

/** The arguments of {@link Mm.mmap}, as `mmap(2)`'s. */
export interface MmapOptions {
  /** Bytes to map (> 0), rounded up to whole pages. */
  length: number;
  /** MAP_FIXED address, or a placement hint without `fixed`. */
  addr?: number;
  /** MAP_FIXED: map exactly at `addr`, replacing whatever was mapped there. */
  fixed?: boolean;
  /** MAP_FIXED_NOREPLACE: map exactly at `addr`, EEXIST if anything is mapped there. */
  noReplace?: boolean;
  prot: MmProt;
  /** Default anonymous. */
  backing?: MmapBacking;
  /** The VMA's name (`PR_SET_VMA_ANON_NAME`, or a driver's); default ''. */
  name?: string;
  /** MAP_POPULATE: fault every page in now; as `mm_populate`, a failure there does not fail the mmap. */
  populate?: boolean;
}

/** The collaborators of an {@link Mm}. */
export interface MmDeps {
  readonly pages: MmPageSource;
  readonly cpu: MmCpuAccess;
  readonly bus: EventBus<MmEvents>;
  readonly layout?: Partial<MmLayout> | undefined;
}

/** Counters of an {@link Mm}. */
export interface MmStats {
  /** Demand faults that populated a page (`handle_mm_fault` calls that installed an entry). */
  readonly faults: number;
  /** Present page-table entries (RSS, in pages). */
  readonly rss: number;
  /** Pins taken through this mm and not yet released. */
  readonly pinnedPages: number;
}

/**
 * A user address space (`struct mm_struct`): VMAs, a page table, demand faults, get_user_pages pins
 * and MMU notifiers. Anonymous memory is populated lazily on first touch with a zeroed page; a pfns
 * mapping (VM_PFNMAP) has its frames inserted on fault. CPU accesses through virtual addresses go
 * through the page table to the CPU with the VMA's memory type.
 *
 * Calls validate before they change anything, with one exception shared with Linux: when populating
 * a range runs out of pages (ENOMEM), the pages already populated stay mapped.
 */
export class Mm {
  /** The address-space shape. */
  readonly layout: MmLayout;
  private list: readonly Vma[] = [];
  private readonly pageTable = new UserPageTable();
  private readonly notifiers = new MmuNotifierList();
  private readonly pins = new Map<number, number>();
  private readonly pages: MmPageSource;
  private readonly cpu: MmCpuAccess;
  private readonly bus: EventBus<MmEvents>;
  private faultCount = 0;
  private pinnedCount = 0;
  private dead = false;

  /**
   * @param pid the owning process, for events and messages.
   * @throws RangeError on an inconsistent layout.
   */
  constructor(
    deps: MmDeps,
    readonly pid = 0,
  ) {
    this.pages = deps.pages;
    this.cpu = deps.cpu;
    this.bus = deps.bus;
    this.layout = mmLayout(deps.layout);
  }

  /** True once {@link Mm.exitMmap} has run. */
  get exited(): boolean {
    return this.dead;
  }

  /** A snapshot of the counters. */
  get stats(): MmStats {
    return { faults: this.faultCount, rss: this.pageTable.presentCount, pinnedPages: this.pinnedCount };
  }

  /** The VMAs in address order (`/proc/pid/maps`). */
  vmas(): readonly Vma[] {
    return this.list;
  }

  /** The VMA containing `va`, if any (`vma_lookup`). */
  findVma(va: number): Vma | undefined {
    return this.list[vmaIndexOf(this.list, va)];
  }

  /**
   * `do_mmap` (mm/mmap.c): creates a mapping and returns its address. Without `fixed`, `addr` is a
   * hint used when the range there is free, else the area is placed top-down below `mmapBase`
   * (falling back to a bottom-up search from `unmappedBase`). With `fixed`, whatever was mapped in
   * the range is unmapped first (MMU notifiers are told), as MAP_FIXED does. Adjacent compatible
   * anonymous VMAs merge.
   *
   * Errors: EINVAL for a zero length, an unaligned fixed address or a bad pfns backing; ENOMEM when
   * the length does not fit, no gap is free or the map count would pass `maxMapCount`; EPERM for a
   * fixed address below `mmapMinAddr`; EEXIST for `noReplace` over a mapping.
   * @throws Error when the mm has exited (no task can call mmap on it).
   */
  mmap(opts: MmapOptions): KResult<number> {
    if (this.dead) throw new Error(`mmap: the address space of pid ${this.pid} has exited`);
    const { length } = opts;
    if (!Number.isSafeInteger(length) || length <= 0) {
      return fail('EINVAL', `mmap: length ${length} is invalid; map at least one byte`, {
        pid: this.pid,
        length,
      });
    }
    const len = alignUp(length, PAGE_SIZE);
    if (len > this.layout.taskSize - this.layout.mmapMinAddr) {
      return fail(
        'ENOMEM',
        `mmap: ${hex(len)} bytes do not fit in the ${hex(this.layout.taskSize)}-byte user space`,
        {
          pid: this.pid,
          length: len,
          taskSize: this.layout.taskSize,
        },
      );
    }
    const backing = this.checkBacking(opts.backing, len);
    if (E.isLeft(backing)) return backing;
    const fixed = opts.fixed === true || opts.noReplace === true;
    const placed = fixed
      ? this.checkFixed(opts.addr, len, opts.noReplace === true)
      : this.placeUnfixed(opts.addr, len);
    if (E.isLeft(placed)) return placed;
    const start = placed.right;
    const end = start + len;
    const vma = this.newVma(start, end, opts, backing.right);
    const carved = carve(this.list, start, end, PAGE_SIZE);
    const next = insertMerged(carved.outside, vma, PAGE_SIZE);
    if (next.length > this.layout.maxMapCount) return this.mapCountExceeded('mmap', next.length);
    if (carved.inside.length > 0) this.unmapPieces(start, end, carved.inside);
    this.list = next;
    if (this.bus.active) {
      this.bus.emit('mmap', {
        pid: this.pid,
        start,
        end,
        prot: protString(vma.prot),
        backing: vma.backing.kind,
        name: vma.name,
        fixed,
      });
    }
    if (opts.populate === true) this.populate(start, end, vma.prot.write);
    return ok(start);
  }

  /**
   * `do_vmi_munmap` (mm/vma.c): unmaps `[addr, addr + PAGE_ALIGN(length))`, splitting VMAs at the
   * edges. Unmapped holes are fine. MMU notifiers are told before the pages go; each anonymous page
   * loses the mapping's reference, so a pinned page stays allocated until it is unpinned.
   *
   * Errors: EINVAL for an unaligned address, a zero length or a range beyond `taskSize`; ENOMEM when
   * the split would pass `maxMapCount`.
   */
  munmap(addr: number, length: number): KResult<void> {
    const { taskSize } = this.layout;
    if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0 || addr > taskSize) {
      return fail('EINVAL', `munmap: address ${addr} is not a page-aligned user address`, {
        pid: this.pid,
        addr,
      });
    }
    if (!Number.isSafeInteger(length) || length <= 0 || length > taskSize - addr) {
      return fail('EINVAL', `munmap: length ${length} at ${hex(addr)} is zero or runs past the user space`, {
        pid: this.pid,
        addr,
        length,
      });
    }
    const end = addr + alignUp(length, PAGE_SIZE);
    if (!overlapsAny(this.list, addr, end)) return OK;
    const carved = carve(this.list, addr, end, PAGE_SIZE);
    if (carved.outside.length > this.layout.maxMapCount)
      return this.mapCountExceeded('munmap', carved.outside.length);
    this.unmapPieces(addr, end, carved.inside);
    this.list = carved.outside;
    if (this.bus.active) this.bus.emit('munmap', { pid: this.pid, start: addr, end });
    return OK;
  }

  /**
   * `do_mprotect_pkey` (mm/mprotect.c): sets the protection of `[addr, addr + PAGE_ALIGN(length))`,
   * splitting and merging VMAs. When any permission is taken away, MMU notifiers are told first.
   *
   * Errors: EINVAL for an unaligned address; ENOMEM when part of the range is not mapped (checked
   * before anything changes, where Linux may have changed the VMAs before the hole) or the map count
   * would pass `maxMapCount`. A zero length succeeds and does nothing.
   */
  mprotect(addr: number, length: number, prot: MmProt): KResult<void> {
    if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) {
      return fail('EINVAL', `mprotect: address ${addr} is not page aligned`, { pid: this.pid, addr });
    }
    if (!Number.isSafeInteger(length) || length < 0) {
      return fail('EINVAL', `mprotect: length ${length} is invalid`, { pid: this.pid, addr, length });
    }
    if (length === 0) return OK;
    const end = addr + alignUp(length, PAGE_SIZE);
    const hole = this.firstHole(addr, end);
    if (hole >= 0) {
      return fail('ENOMEM', `mprotect: ${hex(hole)} in [${hex(addr)}, ${hex(end)}) is not mapped`, {
        pid: this.pid,
        addr,
        end,
        firstUnmapped: hole,
      });
    }
    const p = normaliseProt(prot);
    const accessBits = vmFlagsFor(p, ANONYMOUS) & VM_ACCESS_FLAGS;
    const carved = carve(this.list, addr, end, PAGE_SIZE);
    let next = carved.outside;
    let reduces = false;
    for (const piece of carved.inside) {
      reduces ||= (piece.flags & VM_ACCESS_FLAGS & ~accessBits) !== 0;
      const flags = (piece.flags & ~VM_ACCESS_FLAGS) | accessBits;
      next = insertMerged(next, { ...piece, flags, prot: p }, PAGE_SIZE);
    }
    if (next.length > this.layout.maxMapCount) return this.mapCountExceeded('mprotect', next.length);
    if (reduces) this.notifyInvalidate(addr, end, 'protection-vma');
    this.list = next;
    if (this.bus.active) this.bus.emit('mprotect', { pid: this.pid, start: addr, end, prot: protString(p) });
    return OK;
  }

  /**
   * A CPU load of `len` bytes at user address `va` into `dst[dstOff…]` (`copy_from_user`). The whole
   * range must be mapped and readable, else EFAULT and nothing happens. Missing pages are faulted in
   * first (ENOMEM when none is free; pages populated before that stay), then the bytes move through
   * the CPU with each VMA's memory type. A CPU error (a pfns backing naming non-RAM) stops the copy.
   * @throws RangeError when `dstOff`/`len` do not fit `dst` (a caller bug).
   */
  read(va: number, dst: Uint8Array, dstOff: number, len: number): KResult<void> {
    return this.access(va, dst, dstOff, len, false);
  }

  /** A CPU store of `src[srcOff…]` at user address `va` (`copy_to_user`); as {@link Mm.read}, but needs write permission. */
  write(va: number, src: Uint8Array, srcOff: number, len: number): KResult<void> {
    return this.access(va, src, srcOff, len, true);
  }

  /**
   * `handle_mm_fault` (mm/memory.c): makes the page at `va` present for a read or write and returns
   * its pfn. Used by CPU accesses, get_user_pages and by IOMMU SVA page requests. A page already
   * present is returned without counting a fault.
   *
   * Errors: EFAULT when no VMA covers `va` or it does not permit the access (the CPU's rule: a read
   * needs any of read/write/exec); ENOMEM when no page is free for anonymous memory.
   */
  handleFault(va: number, write: boolean): KResult<number> {
    if (!this.isUserAddress(va)) return this.badAddress('fault', va);
    const vma = this.findVma(va);
    if (vma === undefined) return this.noVma('fault', va);
    if (!cpuMayAccess(vma, write)) return this.denied('fault', va, vma, write);
    const vpn = Math.floor(va / PAGE_SIZE);
    const pfn = this.pageTable.get(vpn);
    return pfn >= 0 ? ok(pfn) : this.populatePage(vma, vpn, write);
  }

  /** The pfn mapped at `va`, or -1 when no page is present; never faults (`follow_page`). */
  lookup(va: number): number {
    return this.isUserAddress(va) ? this.pageTable.get(Math.floor(va / PAGE_SIZE)) : -1;
  }

  /**
   * `pin_user_pages` (mm/gup.c, FOLL_PIN): pins `nrPages` pages from the page containing `va`,
   * faulting them in as needed, and returns their pfns. Each pin holds a page reference, so the page
   * outlives munmap and process exit until {@link Mm.unpinUserPages}. All or nothing: on failure no
   * page stays pinned (Linux may return a shorter count instead; its callers then unpin and fail).
   *
   * Errors: EINVAL for a bad count; EFAULT when the range is not wholly mapped, leaves user space, or
   * crosses a VM_IO/VM_PFNMAP mapping or one without the needed permission (a read pin needs
   * VM_READ); ENOMEM when faulting runs out of pages (pages populated before stay mapped).
   */
  pinUserPages(va: number, nrPages: number, write: boolean): KResult<number[]> {
    if (!Number.isSafeInteger(nrPages) || nrPages < 0) {
      return fail('EINVAL', `pin_user_pages: page count ${nrPages} is invalid`, { pid: this.pid, nrPages });
    }
    if (!Number.isSafeInteger(va) || va < 0) return this.badAddress('pin', va);
    if (nrPages === 0) return ok([]);
    const start = alignDown(va, PAGE_SIZE);
    const end = start + nrPages * PAGE_SIZE;
    if (end > this.layout.taskSize) return this.badAddress('pin', end - 1);
    const refused = this.checkPinnable(start, end, write);
    if (E.isLeft(refused)) return refused;
    const populated = this.faultIn(start, end, write);
    if (E.isLeft(populated)) return populated;
    const firstVpn = start / PAGE_SIZE;
    const pfns = Array.from({ length: nrPages }, (_, k) => this.pageTable.get(firstVpn + k));
    const taken = this.grabPins(pfns);
    if (E.isLeft(taken)) return taken;
    for (const pfn of pfns) this.pins.set(pfn, (this.pins.get(pfn) ?? 0) + 1);
    this.pinnedCount += nrPages;
    if (this.bus.active) this.bus.emit('pin', { pid: this.pid, va: start, nrPages, write, pfns: [...pfns] });
    return ok(pfns);
  }

  /**
   * `unpin_user_pages` (mm/gup.c): releases pins taken by {@link Mm.pinUserPages} on this mm (also
   * after munmap or exit); a page whose mapping is gone is freed with its last pin.
   *
   * Errors: EINVAL when some pfn is not pinned through this mm as many times as it is listed.
   */
  unpinUserPages(pfns: readonly number[]): KResult<void> {
    const wanted = new Map<number, number>();
    for (const pfn of pfns) wanted.set(pfn, (wanted.get(pfn) ?? 0) + 1);
    for (const [pfn, count] of wanted) {
      const held = this.pins.get(pfn) ?? 0;
      if (held < count) {
        return fail(
          'EINVAL',
          `unpin_user_pages: pfn ${hex(pfn)} is pinned ${held} times through pid ${this.pid}, not ${count}`,
          {
            pid: this.pid,
            pfn,
            held,
            requested: count,
          },
        );
      }
    }
    for (const pfn of pfns) {
      expectOk(this.pages.unpin(pfn), 'unpin_user_page');
      const held = (this.pins.get(pfn) as number) - 1;
      if (held === 0) this.pins.delete(pfn);
      else this.pins.set(pfn, held);
    }
    this.pinnedCount -= pfns.length;
    if (this.bus.active && pfns.length > 0) this.bus.emit('unpin', { pid: this.pid, pfns: [...pfns] });
    return OK;
  }

  /**
   * `mmu_notifier_register` (mm/mmu_notifier.c): `notifier` hears every invalidation of this address
   * space and its release. Returns the unregister function.
   * @throws Error when the mm has exited (no live address space to follow).
   */
  registerNotifier(notifier: MmuNotifier): () => void {
    if (this.dead) throw new Error(`mmu_notifier_register: the address space of pid ${this.pid} has exited`);
    return this.notifiers.register(notifier);
  }

  /**
   * `exit_mmap` (mm/mmap.c): tears the address space down at process exit. Notifiers get `release`
   * first and are unhooked, then every mapping is zapped; anonymous pages lose the mapping's reference
   * (pinned ones stay until unpinned). Idempotent.
   */
  exitMmap(): void {
    if (this.dead) return;
    this.dead = true;
    this.notifiers.release(this);
    const before = this.pageTable.presentCount;
    for (const vma of this.list) this.zap(vma);
    this.list = [];
    if (this.bus.active) this.bus.emit('exit', { pid: this.pid, pagesReleased: before });
  }

  private access(va: number, buf: Uint8Array, off: number, len: number, write: boolean): KResult<void> {
    if (
      !Number.isSafeInteger(len) ||
      len < 0 ||
      !Number.isSafeInteger(off) ||
      off < 0 ||
      off + len > buf.length
    ) {
      throw new RangeError(
        `user access: ${len} bytes at offset ${off} do not fit a ${buf.length}-byte buffer`,
      );
    }
    if (len === 0) return OK;
    const permitted = this.checkAccess(va, len, write);
    if (E.isLeft(permitted)) return permitted;
    const populated = this.faultIn(va, va + len, write);
    if (E.isLeft(populated)) return populated;
    let vma = this.list[vmaIndexOf(this.list, va)] as Vma;
    let done = 0;
    while (done < len) {
      const a = va + done;
      if (a >= vma.end) vma = this.list[vmaIndexOf(this.list, a)] as Vma;
      const vpn = Math.floor(a / PAGE_SIZE);
      const inPage = a - vpn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, len - done);
      const phys = this.pageTable.get(vpn) * PAGE_SIZE + inPage;
      const r = write
        ? this.cpu.write(phys, buf, off + done, n, vma.attr)
        : this.cpu.read(phys, buf, off + done, n, vma.attr);
      if (E.isLeft(r)) return r;
      done += n;
    }
    return OK;
  }

  /** Every byte of `[va, va + len)` lies in a VMA the CPU may access this way; EFAULT otherwise. */
  private checkAccess(va: number, len: number, write: boolean): KResult<void> {
    if (!Number.isSafeInteger(va) || va < 0 || va + len > this.layout.taskSize) {
      return this.badAddress(write ? 'write' : 'read', va);
    }
    for (let a = va; a < va + len; ) {
      const vma = this.findVma(a);
      if (vma === undefined) return this.noVma(write ? 'write' : 'read', a);
      if (!cpuMayAccess(vma, write)) return this.denied(write ? 'write' : 'read', a, vma, write);
      a = vma.end;
    }
    return OK;
  }

  /** `check_vma_flags` over `[start, end)`: EFAULT at the first hole or refusing VMA. */
  private checkPinnable(start: number, end: number, write: boolean): KResult<void> {
    for (let a = start; a < end; ) {
      const vma = this.findVma(a);
      if (vma === undefined) return this.noVma('pin', a);
      const refusal = gupRefusal(vma, write);
      if (refusal !== undefined) {
        return fail(
          'EFAULT',
          `pin_user_pages: cannot pin ${hex(a)} for ${write ? 'writing' : 'reading'}: ${refusal}`,
          {
            pid: this.pid,
            va: a,
            write,
            vmaStart: vma.start,
            vmaEnd: vma.end,
          },
        );
      }
      a = vma.end;
    }
    return OK;
  }

  /** Pins each page; on a refusal, releases the pins taken and fails. */
  private grabPins(pfns: readonly number[]): KResult<void> {
    for (let k = 0; k < pfns.length; k++) {
      const pin = this.pages.pin(pfns[k] as number);
      if (E.isLeft(pin)) {
        for (let j = 0; j < k; j++) expectOk(this.pages.unpin(pfns[j] as number), 'unpin_user_page');
        return pin;
      }
    }
    return OK;
  }

  /** Populates every missing page of `[start, end)`, which must be mapped and permitted. */
  private faultIn(start: number, end: number, write: boolean): KResult<void> {
    const lastVpn = Math.ceil(end / PAGE_SIZE);
    let vma: Vma | undefined;
    for (let vpn = Math.floor(start / PAGE_SIZE); vpn < lastVpn; vpn++) {
      if (this.pageTable.get(vpn) >= 0) continue;
      const va = vpn * PAGE_SIZE;
      if (vma === undefined || va >= vma.end) vma = this.list[vmaIndexOf(this.list, va)] as Vma;
      const r = this.populatePage(vma, vpn, write);
      if (E.isLeft(r)) return r;
    }
    return OK;
  }

  /** MAP_POPULATE: faults in what it can; a permission or memory failure is not the mmap's. */
  private populate(start: number, end: number, write: boolean): void {
    if (E.isRight(this.checkAccess(start, end - start, write))) this.faultIn(start, end, write);
  }

  /** `do_anonymous_page` / `vmf_insert_pfn`: installs the page of `vpn` and counts the fault. */
  private populatePage(vma: Vma, vpn: number, write: boolean): KResult<number> {
    let pfn: number;
    if (vma.backing.kind === 'pfns') {
      pfn = vma.backing.pfns[vma.pgoff + vpn - vma.start / PAGE_SIZE] as number;
    } else {
      const page = this.pages.allocPage();
      if (E.isLeft(page)) {
        return fail('ENOMEM', `fault at ${hex(vpn * PAGE_SIZE)}: no free page for anonymous memory`, {
          pid: this.pid,
          va: vpn * PAGE_SIZE,
          cause: page.left.message,
        });
      }
      pfn = page.right;
    }
    this.pageTable.set(vpn, pfn);
    this.faultCount += 1;
    if (this.bus.active) this.bus.emit('fault', { pid: this.pid, va: vpn * PAGE_SIZE, write, pfn });
    return ok(pfn);
  }

  /** Tells notifiers, then zaps the given VMA parts (the ones inside `[start, end)`). */
  private unmapPieces(start: number, end: number, inside: readonly Vma[]): void {
    this.notifyInvalidate(start, end, 'unmap');
    for (const piece of inside) this.zap(piece);
  }

  /** `zap_page_range_single` over one VMA (part): anonymous pages lose the mapping's reference. */
  private zap(vma: Vma): void {
    const drop = vma.backing.kind === 'anonymous' ? this.putAnonPage : ignorePage;
    this.pageTable.clearRange(vma.start / PAGE_SIZE, vma.end / PAGE_SIZE, drop);
  }

  private readonly putAnonPage = (_vpn: number, pfn: number): void => {
    expectOk(this.pages.putPage(pfn), 'put_page');
  };

  private notifyInvalidate(start: number, end: number, event: MmuNotifyEvent): void {
    if (this.notifiers.size === 0) return;
    if (this.bus.active) this.bus.emit('notifier-invalidate', { pid: this.pid, start, end, event });
    this.notifiers.invalidateRange(this, start, end, event);
  }

  private newVma(start: number, end: number, opts: MmapOptions, backing: VmaBacking): Vma {
    const prot = normaliseProt(opts.prot);
    return {
      start,
      end,
      flags: vmFlagsFor(prot, backing),
      prot,
      name: opts.name ?? '',
      backing,
      pgoff: backing.kind === 'pfns' ? 0 : start / PAGE_SIZE,
      attr: backing.kind === 'pfns' ? backing.attr : 'cached',
    };
  }

  private checkBacking(backing: MmapBacking | undefined, len: number): KResult<VmaBacking> {
    if (backing === undefined || backing.kind === 'anonymous') return ok(ANONYMOUS);
    const pages = len / PAGE_SIZE;
    if (backing.pfns.length < pages) {
      return fail(
        'EINVAL',
        `mmap: the pfns backing has ${backing.pfns.length} pages, the mapping needs ${pages}`,
        {
          pid: this.pid,
          pfns: backing.pfns.length,
          pages,
        },
      );
    }
    const pfns = backing.pfns.slice(0, pages);
    const bad = pfns.findIndex((p) => !Number.isSafeInteger(p) || p < 0);
    if (bad >= 0) {
      return fail('EINVAL', `mmap: pfns[${bad}] = ${pfns[bad]} is not a page frame number`, {
        pid: this.pid,
        index: bad,
      });
    }
    return ok({ kind: 'pfns', pfns: Object.freeze(pfns), attr: backing.attr ?? 'cached' });
  }

  /** `__get_unmapped_area`'s checks of a MAP_FIXED address, then `security_mmap_addr`. */
  private checkFixed(addr: number | undefined, len: number, noReplace: boolean): KResult<number> {
    const { taskSize, mmapMinAddr } = this.layout;
    if (addr === undefined || !Number.isSafeInteger(addr) || addr < 0) {
      return fail('EINVAL', `mmap: MAP_FIXED needs an address, got ${addr}`, { pid: this.pid });
    }
    if (addr > taskSize - len) {
      return fail(
        'ENOMEM',
        `mmap: [${hex(addr)}, +${hex(len)}) runs past the user space end ${hex(taskSize)}`,
        {
          pid: this.pid,
          addr,
          length: len,
        },
      );
    }
    if (addr % PAGE_SIZE !== 0) {
      return fail('EINVAL', `mmap: MAP_FIXED address ${hex(addr)} is not page aligned`, {
        pid: this.pid,
        addr,
      });
    }
    if (addr < mmapMinAddr) {
      return fail('EPERM', `mmap: ${hex(addr)} is below vm.mmap_min_addr (${hex(mmapMinAddr)})`, {
        pid: this.pid,
        addr,
        mmapMinAddr,
      });
    }
    if (noReplace && overlapsAny(this.list, addr, addr + len)) {
      return fail(
        'EEXIST',
        `mmap: MAP_FIXED_NOREPLACE range [${hex(addr)}, ${hex(addr + len)}) is already mapped`,
        {
          pid: this.pid,
          addr,
          length: len,
        },
      );
    }
    return ok(addr);
  }

  /** `round_hint_to_min` then `generic_get_unmapped_area_topdown` (mm/mmap.c). */
  private placeUnfixed(addr: number | undefined, len: number): KResult<number> {
    const { taskSize, mmapMinAddr, mmapBase, unmappedBase } = this.layout;
    if (addr !== undefined && (!Number.isSafeInteger(addr) || addr < 0)) {
      return fail('EINVAL', `mmap: hint ${addr} is not an address`, { pid: this.pid });
    }
    let hint = alignDown(addr ?? 0, PAGE_SIZE);
    if (hint !== 0 && hint < mmapMinAddr) hint = alignUp(mmapMinAddr, PAGE_SIZE);
    if (hint !== 0 && taskSize - len >= hint && !overlapsAny(this.list, hint, hint + len)) return ok(hint);
    const low = Math.max(PAGE_SIZE, mmapMinAddr);
    let start = unmappedAreaTopdown(this.list, len, low, mmapBase);
    if (start < 0) start = unmappedArea(this.list, len, Math.max(unmappedBase, low), taskSize);
    if (start < 0) {
      return fail('ENOMEM', `mmap: no free ${hex(len)}-byte range in the address space of pid ${this.pid}`, {
        pid: this.pid,
        length: len,
        vmas: this.list.length,
      });
    }
    return ok(start);
  }

  /** First address of `[start, end)` no VMA covers, or -1. */
  private firstHole(start: number, end: number): number {
    for (let a = start; a < end; ) {
      const vma = this.findVma(a);
      if (vma === undefined) return a;
      a = vma.end;
    }
    return -1;
  }

  private isUserAddress(va: number): boolean {
    return Number.isSafeInteger(va) && va >= 0 && va < this.layout.taskSize;
  }

  private mapCountExceeded(op: string, count: number): KResult<never> {
    return fail(
      'ENOMEM',
      `${op}: the result would need ${count} VMAs, above vm.max_map_count ${this.layout.maxMapCount}`,
      {
        pid: this.pid,
        count,
        maxMapCount: this.layout.maxMapCount,
      },
    );
  }

  private badAddress(op: string, va: number): KResult<never> {
    return fail(
      'EFAULT',
      `${op}: ${va} is not a user address of pid ${this.pid} (below ${hex(this.layout.taskSize)})`,
      {
        pid: this.pid,
        va,
      },
    );
  }

  private noVma(op: string, va: number): KResult<never> {
    return fail('EFAULT', `${op}: nothing is mapped at ${hex(va)} in pid ${this.pid}`, { pid: this.pid, va });
  }

  private denied(op: string, va: number, vma: Vma, write: boolean): KResult<never> {
    return fail(
      'EFAULT',
      `${op}: the mapping [${hex(vma.start)}, ${hex(vma.end)}) at ${hex(va)} is ${protString(vma.prot)}, not ${write ? 'writable' : 'accessible'}`,
      { pid: this.pid, va, write, vmaStart: vma.start, vmaEnd: vma.end, prot: protString(vma.prot) },
    );
  }
}

/** A page-source refusal on a page the mm holds a reference to is a bug in the model. */
const expectOk = (r: KResult<void>, op: string): void => {
  if (E.isLeft(r))
    throw new Error(`mm: ${op} refused on a page the mm holds: ${r.left.code}: ${r.left.message}`);
};
