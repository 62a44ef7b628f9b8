import { hex, PAGE_SIZE } from '../core/address.js';
import { fail, type KResult, ok } from '../core/kernel-error.js';
import { PageStore } from './page-store.js';
import type { RamBank } from './ram-bank.js';

const SECTION_PAGES = 512; // one directory leaf covers 2 MiB
const SECTION_SHIFT = 9;
const OK: KResult<void> = ok(undefined);

interface BankIndex {
  readonly bank: RamBank;
  readonly basePfn: number;
  readonly pages: number;
  /** Per 2 MiB section, slot + 1 of each page (0 = never written: reads as zeros). */
  readonly sections: (Int32Array | undefined)[];
}

/**
 * Physical memory with real bytes: RAM banks at physical addresses with holes between them. Data is
 * sparse — a page costs nothing until written and reads as zeros before — and accesses may cross page
 * and bank boundaries. An access that touches a hole fails with EFAULT before any byte moves.
 *
 * This is memory as the bus sees it, behind the CPU caches; CPU accesses go through `Cpu`.
 */
export class PhysicalMemory {
  private readonly index: readonly BankIndex[];
  private readonly store = new PageStore();
  private lastBank: BankIndex;

  /** @throws RangeError on overlapping, unaligned or empty banks (a machine description bug). */
  constructor(banks: readonly RamBank[]) {
    if (banks.length === 0) throw new RangeError('PhysicalMemory: at least one RAM bank is required');
    const sorted = [...banks].sort((a, b) => a.base - b.base);
    sorted.forEach((b, i) => {
      if (b.base % PAGE_SIZE !== 0 || b.size % PAGE_SIZE !== 0 || b.size <= 0) {
        throw new RangeError(`RAM bank ${b.name}: base and size must be non-zero multiples of 4 KiB`);
      }
      if (b.size / PAGE_SIZE >= 2 ** 32) throw new RangeError(`RAM bank ${b.name}: larger than 16 TiB`);
      const prev = sorted[i - 1];
      if (prev && prev.base + prev.size > b.base) {
        throw new RangeError(`RAM banks ${prev.name} and ${b.name} overlap`);
      }
    });
    this.index = sorted.map((bank) => ({
      bank,
      basePfn: bank.base / PAGE_SIZE,
      pages: bank.size / PAGE_SIZE,
      sections: new Array<Int32Array | undefined>(Math.ceil(bank.size / PAGE_SIZE / SECTION_PAGES)),
    }));
    this.lastBank = this.index[0] as BankIndex;
  }

  /** The RAM banks, in address order. */
  get banks(): readonly RamBank[] {
    return this.index.map((i) => i.bank);
  }

  /** Total RAM in bytes. */
  get totalBytes(): number {
    return this.index.reduce((n, i) => n + i.bank.size, 0);
  }

  /** Pages that hold written data (the model's real memory cost). */
  get residentPages(): number {
    return this.store.residentPages;
  }

  /** The bank holding `addr`, or `undefined` for a hole. */
  bankOf(addr: number): RamBank | undefined {
    return this.findBank(Math.floor(addr / PAGE_SIZE))?.bank;
  }

  /** True when every byte of `[addr, addr + length)` is RAM. */
  isRam(addr: number, length: number): boolean {
    return this.holeIn(addr, length) < 0;
  }

  /** Reads `length` bytes at `addr` into `dst[dstOffset…]`. EFAULT if the range touches a hole. */
  read(addr: number, dst: Uint8Array, dstOffset: number, length: number): KResult<void> {
    return this.transfer(false, addr, dst, dstOffset, length);
  }

  /** Writes `src[srcOffset…]` (`length` bytes) at `addr`. EFAULT if the range touches a hole. */
  write(addr: number, src: Uint8Array, srcOffset: number, length: number): KResult<void> {
    return this.transfer(true, addr, src, srcOffset, length);
  }

  /** One page walk for reads and writes: the range is checked for holes first, so no byte moves on EFAULT. */
  private transfer(
    write: boolean,
    addr: number,
    buf: Uint8Array,
    offset: number,
    length: number,
  ): KResult<void> {
    const hole = this.holeIn(addr, length);
    if (hole >= 0) return this.efault(write ? 'write' : 'read', addr, length, hole);
    let done = 0;
    while (done < length) {
      const a = addr + done;
      const pfn = Math.floor(a / PAGE_SIZE);
      const inPage = a - pfn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, length - done);
      if (write) this.writePage(pfn, inPage, buf, offset + done, n);
      else this.readPage(pfn, inPage, buf, offset + done, n);
      done += n;
    }
    return OK;
  }

  /** Copies part of one page out; a page never written reads as zeros. Whole pages need no view. */
  private readPage(pfn: number, inPage: number, dst: Uint8Array, at: number, n: number): void {
    const slot = this.slotOf(pfn);
    if (slot < 0) dst.fill(0, at, at + n);
    else if (n === PAGE_SIZE) dst.set(this.store.view(slot), at);
    else dst.set(this.store.view(slot).subarray(inPage, inPage + n), at);
  }

  /** Copies into part of one page, creating its storage on first write. */
  private writePage(pfn: number, inPage: number, src: Uint8Array, at: number, n: number): void {
    const page = this.materialise(pfn);
    if (n === PAGE_SIZE && at === 0 && src.length === PAGE_SIZE) page.set(src, 0);
    else page.set(src.subarray(at, at + n), inPage);
  }

  /** Copies `length` bytes from `srcAddr` to `dstAddr` (regions must not overlap). EFAULT on holes. */
  copy(dstAddr: number, srcAddr: number, length: number): KResult<void> {
    const hole = Math.max(this.holeIn(srcAddr, length), this.holeIn(dstAddr, length));
    if (hole >= 0) return this.efault('copy', srcAddr, length, hole);
    let done = 0;
    while (done < length) {
      const s = srcAddr + done;
      const d = dstAddr + done;
      const sPfn = Math.floor(s / PAGE_SIZE);
      const dPfn = Math.floor(d / PAGE_SIZE);
      const sIn = s - sPfn * PAGE_SIZE;
      const dIn = d - dPfn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - sIn, PAGE_SIZE - dIn, length - done);
      this.copyWithinPages(dPfn, dIn, sPfn, sIn, n);
      done += n;
    }
    return OK;
  }

  /** Fills `length` bytes at `addr` with `value`. EFAULT on holes. */
  fill(addr: number, value: number, length: number): KResult<void> {
    const hole = this.holeIn(addr, length);
    if (hole >= 0) return this.efault('fill', addr, length, hole);
    let done = 0;
    while (done < length) {
      const a = addr + done;
      const pfn = Math.floor(a / PAGE_SIZE);
      const inPage = a - pfn * PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, length - done);
      if (value !== 0 || this.slotOf(pfn) >= 0) this.materialise(pfn).fill(value, inPage, inPage + n);
      done += n;
    }
    return OK;
  }

  /**
   * The page's 4 KiB of backing bytes, created (zeroed) if it was never written. For structures the
   * hardware keeps in memory, such as IO page tables, which are then read and written in place.
   * @throws RangeError when `pfn` is not RAM (a caller bug: allocators only hand out RAM).
   */
  pageBytes(pfn: number): Uint8Array {
    return this.materialise(pfn);
  }

  /** The page's bytes if it was ever written, else `undefined` (it reads as zeros). */
  peekPage(pfn: number): Uint8Array | undefined {
    const slot = this.slotOf(pfn);
    return slot < 0 ? undefined : this.store.view(slot);
  }

  private copyWithinPages(dPfn: number, dIn: number, sPfn: number, sIn: number, n: number): void {
    const sSlot = this.slotOf(sPfn);
    if (sSlot < 0) {
      const dSlot = this.slotOf(dPfn);
      if (dSlot >= 0) this.store.view(dSlot).fill(0, dIn, dIn + n);
      return;
    }
    const src = this.store.view(sSlot);
    const dst = this.materialise(dPfn);
    if (n === PAGE_SIZE) dst.set(src, 0);
    else dst.set(src.subarray(sIn, sIn + n), dIn);
  }

  private materialise(pfn: number): Uint8Array {
    const bank = this.findBank(pfn);
    if (bank === undefined) throw new RangeError(`pfn ${hex(pfn)} is not RAM`);
    const rel = pfn - bank.basePfn;
    const sectionIndex = rel >>> SECTION_SHIFT;
    let section = bank.sections[sectionIndex];
    if (section === undefined) {
      section = new Int32Array(SECTION_PAGES);
      bank.sections[sectionIndex] = section;
    }
    const i = rel & (SECTION_PAGES - 1);
    let slot = (section[i] as number) - 1;
    if (slot < 0) {
      slot = this.store.allocate();
      section[i] = slot + 1;
    }
    return this.store.view(slot);
  }

  private slotOf(pfn: number): number {
    const bank = this.findBank(pfn);
    if (bank === undefined) return -1;
    const rel = pfn - bank.basePfn;
    const section = bank.sections[rel >>> SECTION_SHIFT];
    return section === undefined ? -1 : (section[rel & (SECTION_PAGES - 1)] as number) - 1;
  }

  private findBank(pfn: number): BankIndex | undefined {
    const last = this.lastBank;
    if (pfn >= last.basePfn && pfn < last.basePfn + last.pages) return last;
    for (const b of this.index) {
      if (pfn >= b.basePfn && pfn < b.basePfn + b.pages) {
        this.lastBank = b;
        return b;
      }
    }
    return undefined;
  }

  /** The first address of `[addr, addr+length)` outside RAM, or -1 when all of it is RAM. */
  private holeIn(addr: number, length: number): number {
    if (!(length >= 0) || !Number.isSafeInteger(addr) || addr < 0) return Math.max(addr, 0);
    let a = addr;
    const end = addr + length;
    while (a < end) {
      const bank = this.findBank(Math.floor(a / PAGE_SIZE));
      if (bank === undefined) return a;
      a = bank.bank.base + bank.bank.size;
    }
    return -1;
  }

  private efault(op: string, addr: number, length: number, hole: number): KResult<never> {
    return fail('EFAULT', `${op} of ${length} bytes at ${hex(addr)} touches ${hex(hole)}, which is not RAM`, {
      op,
      addr,
      length,
      firstBadAddress: hole,
    });
  }
}
