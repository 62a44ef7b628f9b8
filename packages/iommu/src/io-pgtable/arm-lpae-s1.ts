import { type Errno, EventBus, fail, hex, type KResult, ok } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { IotlbGather } from '../iotlb/iotlb-gather.js';
import {
  leafProt,
  PROT_PTE_HI,
  PROT_PTE_LO,
  PTE_ADDR_HI_MASK,
  PTE_TYPE_BLOCK,
  PTE_TYPE_MASK,
  PTE_TYPE_TABLE,
  PTE_VALID,
} from './arm-lpae-pte.js';
import { IOMMU_PROT_MASK, IOMMU_READ, IOMMU_WRITE } from './prot.js';
import { PTES_PER_TABLE, TablePages } from './table-pages.js';
import type { IommuFlushOps, IoPageWalker, IoPgtableCfg, IoPgtableEvents, IoTranslation } from './types.js';

/*
 * Addresses cross internal calls as two 32-bit halves (`hi`, and `lo` as a signed int32), never as a
 * whole: V8 passes int32 values unboxed, while a double above 2^31 handed to a call that is not
 * inlined becomes a heap number — an allocation per map, unmap or walk. Whole addresses exist only
 * in the small public entry points and on error paths.
 */

const SZ_4K = 4096;
const SZ_2M = 2 ** 21;
const SZ_1G = 2 ** 30;
const TWO_32 = 2 ** 32;
const TWO_NEG_32 = 2 ** -32;
const PFNS_PER_4G = 2 ** 20;
const LAST_LEVEL = 3;
/** Bytes one descriptor covers at each level (`ARM_LPAE_BLOCK_SIZE`): 512 GiB, 1 GiB, 2 MiB, 4 KiB. */
const LEVEL_SIZE = [2 ** 39, SZ_1G, SZ_2M, SZ_4K] as const;
/** Low-word output-address bits of a leaf at each level; the other low bits come from the IOVA. */
const LEAF_ADDR_LO = Int32Array.of(0, 0xc000_0000, 0xffe0_0000, 0xffff_f000);

/** Page sizes of `ARM_64_LPAE_S1` with a 4 KiB granule (`arm_lpae_restrict_pgsizes`): 4K | 2M | 1G. */
export const ARM_LPAE_S1_PGSIZE_BITMAP = SZ_4K + SZ_2M + SZ_1G;
/** Input (IOVA) and output (physical) address width in bits: `cfg->ias`, `cfg->oas`. */
export const ARM_LPAE_S1_ADDR_BITS = 48;
const ADDR_LIMIT = 2 ** ARM_LPAE_S1_ADDR_BITS;

/** `ok(bytes)` for every leaf level and entry count, built once so a successful map allocates nothing. */
const MAPPED: KResult<number>[][] = LEVEL_SIZE.map((size) =>
  Array.from({ length: PTES_PER_TABLE + 1 }, (_, n) => ok(n * size)),
);

/** The level whose leaves have size `pgsize`, or -1 for an unsupported size. */
const leafLevel = (pgsize: number): number =>
  pgsize === SZ_4K ? 3 : pgsize === SZ_2M ? 2 : pgsize === SZ_1G ? 1 : -1;

/**
 * The descriptor index of an IOVA at `level` (`ARM_LPAE_LVL_IDX`), from the IOVA's 32-bit halves:
 * bits 47:39, 38:30, 29:21 and 20:12.
 */
const indexAt = (level: number, hi: number, lo: number): number =>
  level === 0
    ? (hi >>> 7) & 511
    : level === 1
      ? ((hi & 127) << 2) | (lo >>> 30)
      : level === 2
        ? (lo >>> 21) & 511
        : (lo >>> 12) & 511;

/** The address whose halves are `hi` and `lo` (error paths and events only). */
const join = (hi: number, lo: number): number => hi * TWO_32 + (lo >>> 0);

/** An integer in [0, 2^48): a valid input or output address. */
const isAddress = (x: number): boolean => x >= 0 && x < ADDR_LIMIT && Math.floor(x) === x;

/** A usable page count: a positive integer. */
const isCount = (n: number): boolean => n >= 1 && n <= Number.MAX_SAFE_INTEGER && Math.floor(n) === n;

/** IOMMU_* flags that grant at least read or write. */
const isProt = (prot: number): boolean =>
  (prot | 0) === prot && prot >= 0 && prot <= IOMMU_PROT_MASK && (prot & (IOMMU_READ | IOMMU_WRITE)) !== 0;

/**
 * An ARM LPAE stage-1 IO page table (`ARM_64_LPAE_S1` in drivers/iommu/io-pgtable-arm.c) with a
 * 4 KiB granule: four levels, 48-bit IOVAs and physical addresses, 4 KiB pages and 2 MiB / 1 GiB
 * blocks. It is `struct io_pgtable_ops` — `map_pages`, `unmap_pages`, `iova_to_phys` — plus the
 * walk an SMMU does on an IOTLB miss.
 *
 * The tables are physical pages from the configured page source and the descriptors are those pages'
 * bytes, in the architecture's bit layout: table descriptors hold the next table's physical address,
 * so reading memory shows exactly what a hardware walker would see.
 *
 * Kernel behaviour modelled (mainline since v6.13):
 * - Unmap never splits a block: unmapping part of a 2 MiB / 1 GiB block returns 0 and leaves it
 *   mapped ("Unmap of a partial large IOPTE is not allowed"; older kernels split the block).
 * - Unmapping leaves empty tables in place; they are freed by `free()` — or when a block is mapped over
 *   a table, or a block-sized unmap meets a table, which both free that table and everything below it
 *   (after `tlbFlushWalk`), as Linux does.
 * - One `mapPages`/`unmapPages` call touches one table page only: it returns how many bytes it did, and
 *   the caller loops, as `__iommu_map()`/`__iommu_unmap()` do with `iommu_pgsize()`.
 */
export class ArmLpaeS1Pgtable implements IoPageWalker {
  /** Events: map, unmap, table-alloc, table-free. */
  readonly bus: EventBus<IoPgtableEvents>;
  /** Supported page sizes, as `cfg->pgsize_bitmap`. */
  readonly pgsizeBitmap = ARM_LPAE_S1_PGSIZE_BITMAP;

  private readonly tlb: IommuFlushOps | undefined;
  private rootSlot: number;
  /** Scratch: the new tables a map linked so far (parent slot, index, slot, level), to undo on failure. */
  private readonly fresh = new Int32Array(12);
  /** Scratch: the leaf the last successful walk ended at, and the physical address it found (halves). */
  private leafLo = 0;
  private leafHi = 0;
  private leafAt = 0;
  private physHi = 0;
  private physLo = 0;
  /** Why the last {@link walkToLeafTable} failed. */
  private mapFailure: KResult<number> = ok(0);

  private constructor(
    private readonly tables: TablePages,
    rootSlot: number,
    cfg: IoPgtableCfg,
  ) {
    this.rootSlot = rootSlot;
    this.tlb = cfg.tlb;
    this.bus = new EventBus<IoPgtableEvents>(cfg.name ?? 'io-pgtable');
  }

  /**
   * Builds an empty table: allocates the root (level 0) table — `alloc_io_pgtable_ops(ARM_64_LPAE_S1)`.
   * Fails with the page source's error (ENOMEM) when it has no page for the root.
   */
  static alloc(cfg: IoPgtableCfg): KResult<ArmLpaeS1Pgtable> {
    const tables = new TablePages(cfg.memory, cfg);
    const root = tables.alloc();
    if (E.isLeft(root)) {
      return fail('ENOMEM', `no page for the root of an IO page table: ${root.left.message}`, {
        cause: root.left.code,
      });
    }
    return ok(new ArmLpaeS1Pgtable(tables, root.right, cfg));
  }

  /** Physical address of the root table: what the driver writes to TTBR0 (`arm_lpae_s1_cfg.ttbr`). */
  get ttbr(): number {
    this.assertLive();
    return this.tables.physOf(this.rootSlot);
  }

  /** Number of table pages in use, the root included. */
  get tablePages(): number {
    return this.tables.count;
  }

  /**
   * Maps `pgcount` pages of `pgsize` bytes from `iova` to `paddr` with IOMMU_* permissions `prot`
   * (`arm_lpae_map_pages`). Like the kernel, one call fills at most the rest of one table, so the
   * result (bytes mapped) can be less than `pgsize * pgcount`; the caller continues from there.
   *
   * Errors, and nothing is changed by a failed call:
   * - EINVAL: `pgsize` not 4 KiB / 2 MiB / 1 GiB, `pgcount` < 1, `prot` grants neither read nor write,
   *   or `iova`/`paddr` not aligned to `pgsize` (the core's alignment check; io-pgtable would mask).
   * - ERANGE: `iova` or the physical range beyond 48 bits.
   * - EEXIST: a leaf already maps part of the range ("We require an unmap first").
   * - ENOMEM: the page source has no page for a needed table. Linux keeps tables it linked before
   *   failing; the model unlinks and frees them so that the call changes nothing.
   * @throws Error after {@link free}.
   */
  mapPages(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number): KResult<number> {
    const level = leafLevel(pgsize);
    if (
      this.rootSlot < 0 ||
      level < 0 ||
      !isCount(pgcount) ||
      !isProt(prot) ||
      !isAddress(iova) ||
      !isAddress(paddr)
    ) {
      return this.refuseMap(iova, paddr, pgsize, pgcount, prot);
    }
    const hi = Math.floor(iova * TWO_NEG_32);
    const lo = (iova - hi * TWO_32) | 0;
    const paHi = Math.floor(paddr * TWO_NEG_32);
    const paLo = (paddr - paHi * TWO_32) | 0;
    if (((lo | paLo) & (pgsize - 1)) !== 0) return this.refuseMap(iova, paddr, pgsize, pgcount, prot);
    return this.mapHalves(hi, lo, paHi, paLo, level, pgcount, prot);
  }

  /**
   * Unmaps up to `pgcount` entries of `pgsize` from `iova` and returns the bytes unmapped
   * (`arm_lpae_unmap_pages`). It stops at the first hole and at the end of the table, so the caller
   * loops. Each cleared leaf is queued into `gather` through the `tlbAddPage` flush op, unless the
   * gather is `queued` (a flush queue will flush everything later); the TLB is not flushed here — call
   * `gather.sync()`. Returns 0, changing nothing, for an unsupported `pgsize`, `pgcount` < 1, an IOVA
   * beyond 48 bits or not aligned to `pgsize`, a hole at `iova`, or a block only partly covered.
   * @throws Error after {@link free}.
   */
  unmapPages(iova: number, pgsize: number, pgcount: number, gather?: IotlbGather): number {
    this.assertLive();
    const level = leafLevel(pgsize);
    if (level < 0 || !isCount(pgcount) || !isAddress(iova)) return 0;
    const hi = Math.floor(iova * TWO_NEG_32);
    const lo = (iova - hi * TWO_32) | 0;
    if ((lo & (pgsize - 1)) !== 0) return 0;
    return this.unmapHalves(hi, lo, level, pgcount, gather);
  }

  /**
   * The physical address `iova` translates to, or -1 when it is not mapped (`arm_lpae_iova_to_phys`,
   * which returns 0 for that; here 0 is a valid physical address).
   * @throws Error after {@link free}.
   */
  iovaToPhys(iova: number): number {
    this.assertLive();
    if (!(iova >= 0 && iova < ADDR_LIMIT)) return -1;
    const hi = Math.floor(iova * TWO_NEG_32);
    return this.walkHalves(hi, (iova - hi * TWO_32) | 0) ? this.physHi * TWO_32 + (this.physLo >>> 0) : -1;
  }

  /**
   * The SMMU's table walk for a device access: fills `out` with the physical address, the leaf size and
   * the IOMMU_* permissions the leaf grants, or returns false on a translation fault. Allocates nothing.
   * @throws Error after {@link free}.
   */
  walk(iova: number, out: IoTranslation): boolean {
    this.assertLive();
    if (!(iova >= 0 && iova < ADDR_LIMIT)) return false;
    const hi = Math.floor(iova * TWO_NEG_32);
    if (!this.walkHalves(hi, (iova - hi * TWO_32) | 0)) return false;
    out.phys = this.physHi * TWO_32 + (this.physLo >>> 0);
    out.pgsize = LEVEL_SIZE[this.leafAt] as number;
    out.prot = leafProt(this.leafLo, this.leafHi);
    return true;
  }

  /**
   * Frees every table, the root last, back to the page source (`free_io_pgtable_ops`). The table is
   * unusable afterwards.
   * @throws Error when already freed.
   */
  free(): void {
    this.assertLive();
    this.freeTable(this.rootSlot, 0);
    this.rootSlot = -1;
  }

  private assertLive(): void {
    if (this.rootSlot < 0) throw new Error('io-pgtable: used after free()');
  }

  /** The error for a map request its entry checks refused (the cold path of {@link mapPages}). */
  private refuseMap(
    iova: number,
    paddr: number,
    pgsize: number,
    pgcount: number,
    prot: number,
  ): KResult<number> {
    this.assertLive();
    if (leafLevel(pgsize) < 0) {
      return fail('EINVAL', `page size ${hex(pgsize)} is not one of 4K, 2M, 1G`, { pgsize });
    }
    if (!isCount(pgcount))
      return fail('EINVAL', `page count ${pgcount} must be a positive integer`, { pgcount });
    if (!isProt(prot)) {
      return fail('EINVAL', `prot ${prot} must be IOMMU_* flags including IOMMU_READ or IOMMU_WRITE`, {
        prot,
      });
    }
    if (!isAddress(iova) || !isAddress(paddr)) {
      return fail('ERANGE', `IOVA ${hex(iova)} or physical ${hex(paddr)} is beyond 48 bits`, { iova, paddr });
    }
    return fail('EINVAL', `IOVA ${hex(iova)} and physical ${hex(paddr)} must be aligned to ${hex(pgsize)}`, {
      iova,
      paddr,
      pgsize,
    });
  }

  /** {@link mapPages} once the request is valid; addresses as 32-bit halves. */
  private mapHalves(
    hi: number,
    lo: number,
    paHi: number,
    paLo: number,
    level: number,
    pgcount: number,
    prot: number,
  ): KResult<number> {
    const first = indexAt(level, hi, lo);
    const count = Math.min(pgcount, PTES_PER_TABLE - first);
    const size = LEVEL_SIZE[level] as number;
    if (join(paHi, paLo) + count * size > ADDR_LIMIT) {
      const paddr = join(paHi, paLo);
      return fail('ERANGE', `physical range ${hex(paddr)} + ${count} × ${hex(size)} goes beyond 48 bits`, {
        paddr,
        pgsize: size,
        pgcount,
      });
    }
    const slot = this.walkToLeafTable(hi, lo, level);
    if (slot < 0) return this.mapFailure;
    const exists = this.findLeaf(slot, first, count, level);
    if (exists >= 0) {
      const at = join(hi, lo) + exists * size;
      return fail('EEXIST', `IOVA ${hex(at)} is already mapped: unmap it first`, { iova: at, pgsize: size });
    }
    if (level < LAST_LEVEL) this.dropTables(slot, first, count, level, join(hi, lo));
    this.writeLeaves(slot, first, count, level, paHi, paLo, prot);
    if (this.bus.active) {
      this.bus.emit('map', {
        iova: join(hi, lo),
        paddr: join(paHi, paLo),
        pgsize: size,
        pgcount: count,
        prot,
      });
    }
    return MAPPED[level]?.[count] as KResult<number>;
  }

  /** {@link unmapPages} once the request is valid; the IOVA as 32-bit halves. */
  private unmapHalves(hi: number, lo: number, level: number, pgcount: number, gather?: IotlbGather): number {
    const views = this.tables.views;
    let slot = this.rootSlot;
    for (let lvl = 0; lvl < level; lvl++) {
      const idx = indexAt(lvl, hi, lo);
      const view = views[slot] as Int32Array;
      const pteLo = view[idx * 2] as number;
      // A hole, or a block that the request covers only in part: mainline refuses both.
      if ((pteLo & PTE_TYPE_MASK) !== PTE_TYPE_TABLE) return 0;
      const next = this.childOf(slot, idx, pteLo, view[idx * 2 + 1] as number);
      if (next < 0) return 0;
      slot = next;
    }
    const first = indexAt(level, hi, lo);
    const size = LEVEL_SIZE[level] as number;
    const cleared = this.clearEntries(slot, first, Math.min(pgcount, PTES_PER_TABLE - first), level, hi, lo);
    if (cleared > 0) {
      const tlb = this.tlb;
      if (gather !== undefined && !gather.queued && tlb !== undefined) {
        for (let i = 0; i < cleared; i++) tlb.tlbAddPage(gather, join(hi, lo) + i * size, size);
      }
      if (this.bus.active) this.bus.emit('unmap', { iova: join(hi, lo), pgsize: size, pgcount: cleared });
    }
    return cleared * size;
  }

  /**
   * Walks to the table holding `level`'s entries for the IOVA `hi`:`lo`, linking new tables where there
   * are none. Returns its slot, or -1 with {@link mapFailure} set (and any tables it linked undone).
   */
  private walkToLeafTable(hi: number, lo: number, level: number): number {
    const tables = this.tables;
    let linked = 0;
    let slot = this.rootSlot;
    for (let lvl = 0; lvl < level; lvl++) {
      const idx = indexAt(lvl, hi, lo);
      const view = tables.views[slot] as Int32Array;
      const pteLo = view[idx * 2] as number;
      if ((pteLo & PTE_TYPE_MASK) === PTE_TYPE_TABLE) {
        const next = this.childOf(slot, idx, pteLo, view[idx * 2 + 1] as number);
        if (next < 0) return this.refuseWalk(linked, 'EFAULT', 'points outside the tables', hi, lo, lvl);
        slot = next;
      } else if ((pteLo & PTE_VALID) !== 0) {
        return this.refuseWalk(linked, 'EEXIST', 'is a block that already maps it', hi, lo, lvl);
      } else {
        const got = tables.alloc();
        if (E.isLeft(got))
          return this.refuseWalk(linked, 'ENOMEM', 'is empty and no table page is left', hi, lo, lvl);
        this.linkTable(slot, idx, got.right);
        const fresh = this.fresh;
        fresh[linked * 4] = slot;
        fresh[linked * 4 + 1] = idx;
        fresh[linked * 4 + 2] = got.right;
        fresh[linked * 4 + 3] = lvl + 1;
        linked++;
        if (this.bus.active)
          this.bus.emit('table-alloc', { pfn: tables.slotPfn[got.right] as number, level: lvl + 1 });
        slot = got.right;
      }
    }
    return slot;
  }

  /** Undoes a failed walk's table links and records why it failed; returns -1. */
  private refuseWalk(
    linked: number,
    code: Errno,
    why: string,
    hi: number,
    lo: number,
    level: number,
  ): number {
    this.unlinkFresh(linked);
    const iova = join(hi, lo);
    this.mapFailure = fail(code, `cannot map ${hex(iova)}: its level-${level} descriptor ${why}`, {
      iova,
      level,
    });
    return -1;
  }

  /** Writes a table descriptor at `slot[idx]` pointing at `child` (`arm_lpae_install_table`). */
  private linkTable(slot: number, idx: number, child: number): void {
    const tables = this.tables;
    const pfn = tables.slotPfn[child] as number;
    const hi = Math.floor(pfn / PFNS_PER_4G);
    const view = tables.views[slot] as Int32Array;
    view[idx * 2] = (pfn - hi * PFNS_PER_4G) * SZ_4K + PTE_TYPE_TABLE;
    view[idx * 2 + 1] = hi;
    tables.child[slot * PTES_PER_TABLE + idx] = child;
  }

  /** Undoes the `linked` table links of a failed map, deepest first. */
  private unlinkFresh(linked: number): void {
    const fresh = this.fresh;
    for (let i = linked - 1; i >= 0; i--) {
      const view = this.tables.views[fresh[i * 4] as number] as Int32Array;
      const idx = fresh[i * 4 + 1] as number;
      view[idx * 2] = 0;
      view[idx * 2 + 1] = 0;
      this.freeTable(fresh[i * 4 + 2] as number, fresh[i * 4 + 3] as number);
    }
  }

  /** Index (from `first`) of the first of `count` entries that is already a leaf, or -1. */
  private findLeaf(slot: number, first: number, count: number, level: number): number {
    const view = this.tables.views[slot] as Int32Array;
    const leafType = level === LAST_LEVEL ? PTE_TYPE_TABLE : PTE_TYPE_BLOCK;
    for (let i = 0; i < count; i++) {
      const pteLo = view[(first + i) * 2] as number;
      if ((pteLo & PTE_VALID) !== 0 && (pteLo & PTE_TYPE_MASK) === leafType) return i;
    }
    return -1;
  }

  /**
   * A block is about to replace table descriptors: unmap and free those tables first, as
   * `arm_lpae_init_pte` does — whatever they still map is discarded with them.
   */
  private dropTables(slot: number, first: number, count: number, level: number, iova: number): void {
    const view = this.tables.views[slot] as Int32Array;
    const size = LEVEL_SIZE[level] as number;
    for (let i = 0; i < count; i++) {
      if (((view[(first + i) * 2] as number) & PTE_TYPE_MASK) === PTE_TYPE_TABLE) {
        const at = iova + i * size;
        const hi = Math.floor(at * TWO_NEG_32);
        this.clearEntries(slot, first + i, 1, level, hi, (at - hi * TWO_32) | 0);
      }
    }
  }

  /** Writes `count` leaves from `slot[first]` mapping from the physical address `paHi`:`paLo`. */
  private writeLeaves(
    slot: number,
    first: number,
    count: number,
    level: number,
    paHi: number,
    paLo: number,
    prot: number,
  ): void {
    const view = this.tables.views[slot] as Int32Array;
    const attrLo = (PROT_PTE_LO[prot] as number) | (level === LAST_LEVEL ? PTE_TYPE_TABLE : PTE_TYPE_BLOCK);
    const attrHi = PROT_PTE_HI[prot] as number;
    const size = LEVEL_SIZE[level] as number;
    const base = join(paHi, paLo);
    for (let i = 0; i < count; i++) {
      const pa = base + i * size;
      const hi = Math.floor(pa * TWO_NEG_32);
      const at = (first + i) * 2;
      view[at] = attrLo | (pa - hi * TWO_32);
      view[at + 1] = attrHi | hi;
    }
  }

  /**
   * Clears up to `count` entries from `slot[first]` (the first at IOVA `hi`:`lo`), stopping at the first
   * hole; a table entry is flushed from the walk caches and freed with everything below it
   * (`__arm_lpae_unmap`). Returns the number cleared.
   */
  private clearEntries(
    slot: number,
    first: number,
    count: number,
    level: number,
    hi: number,
    lo: number,
  ): number {
    const view = this.tables.views[slot] as Int32Array;
    let i = 0;
    for (; i < count; i++) {
      const at = (first + i) * 2;
      const pteLo = view[at] as number;
      if ((pteLo & PTE_VALID) === 0) break;
      view[at] = 0;
      if (level < LAST_LEVEL && (pteLo & PTE_TYPE_MASK) === PTE_TYPE_TABLE) {
        const child = this.childOf(slot, first + i, pteLo, view[at + 1] as number);
        view[at + 1] = 0;
        const size = LEVEL_SIZE[level] as number;
        this.tlb?.tlbFlushWalk(join(hi, lo) + i * size, size, SZ_4K);
        if (child >= 0) this.freeTable(child, level + 1);
      } else {
        view[at + 1] = 0;
      }
    }
    return i;
  }

  /**
   * The slot a table descriptor links to: the address comes from the descriptor in memory; the shadow
   * confirms it in one compare. -1 when it points at a page that holds none of our tables (a corrupted
   * table: the walk faults instead of reading arbitrary memory).
   */
  private childOf(slot: number, idx: number, pteLo: number, pteHi: number): number {
    const pfn = (pteHi & PTE_ADDR_HI_MASK) * PFNS_PER_4G + (pteLo >>> 12);
    const tables = this.tables;
    const shadow = tables.child[slot * PTES_PER_TABLE + idx] as number;
    return tables.slotPfn[shadow] === pfn ? shadow : tables.slotOf(pfn);
  }

  /** Frees a table and every table below it, children first (`__arm_lpae_free_pgtable`). */
  private freeTable(slot: number, level: number): void {
    const tables = this.tables;
    if (level < LAST_LEVEL) {
      const view = tables.views[slot] as Int32Array;
      for (let idx = 0; idx < PTES_PER_TABLE; idx++) {
        const pteLo = view[idx * 2] as number;
        if ((pteLo & PTE_TYPE_MASK) !== PTE_TYPE_TABLE) continue;
        const child = this.childOf(slot, idx, pteLo, view[idx * 2 + 1] as number);
        if (child >= 0) this.freeTable(child, level + 1);
      }
    }
    if (this.bus.active) this.bus.emit('table-free', { pfn: tables.slotPfn[slot] as number, level });
    tables.release(slot);
  }

  /**
   * The hardware walk of the IOVA `hi`:`lo`: reads each level's descriptor from the table pages and
   * follows table descriptors by the address they hold. On a leaf, records it and the physical address
   * it gives (`physHi`:`physLo`) and returns true; on a fault returns false. Unrolled by level: this is
   * the hottest path of the model.
   */
  private walkHalves(hi: number, lo: number): boolean {
    const tables = this.tables;
    const { views, child, slotPfn } = tables;
    // Level 0: only table descriptors exist here with a 4 KiB granule.
    let slot = this.rootSlot;
    let idx = (hi >>> 7) & 511;
    let view = views[slot] as Int32Array;
    let pteLo = view[idx * 2] as number;
    let pteHi = view[idx * 2 + 1] as number;
    if ((pteLo & PTE_TYPE_MASK) !== PTE_TYPE_TABLE) return false;
    let pfn = (pteHi & PTE_ADDR_HI_MASK) * PFNS_PER_4G + (pteLo >>> 12);
    let next = child[slot * PTES_PER_TABLE + idx] as number;
    if (slotPfn[next] !== pfn) next = tables.slotOf(pfn);
    if (next < 0) return false;
    // Level 1: 1 GiB block or table.
    slot = next;
    idx = ((hi & 127) << 2) | (lo >>> 30);
    view = views[slot] as Int32Array;
    pteLo = view[idx * 2] as number;
    pteHi = view[idx * 2 + 1] as number;
    if ((pteLo & PTE_TYPE_MASK) !== PTE_TYPE_TABLE) {
      return (pteLo & PTE_TYPE_MASK) === PTE_TYPE_BLOCK && this.hit(1, pteLo, pteHi, lo);
    }
    pfn = (pteHi & PTE_ADDR_HI_MASK) * PFNS_PER_4G + (pteLo >>> 12);
    next = child[slot * PTES_PER_TABLE + idx] as number;
    if (slotPfn[next] !== pfn) next = tables.slotOf(pfn);
    if (next < 0) return false;
    // Level 2: 2 MiB block or table.
    slot = next;
    idx = (lo >>> 21) & 511;
    view = views[slot] as Int32Array;
    pteLo = view[idx * 2] as number;
    pteHi = view[idx * 2 + 1] as number;
    if ((pteLo & PTE_TYPE_MASK) !== PTE_TYPE_TABLE) {
      return (pteLo & PTE_TYPE_MASK) === PTE_TYPE_BLOCK && this.hit(2, pteLo, pteHi, lo);
    }
    pfn = (pteHi & PTE_ADDR_HI_MASK) * PFNS_PER_4G + (pteLo >>> 12);
    next = child[slot * PTES_PER_TABLE + idx] as number;
    if (slotPfn[next] !== pfn) next = tables.slotOf(pfn);
    if (next < 0) return false;
    // Level 3: pages only (0b01 is reserved here and faults).
    idx = (lo >>> 12) & 511;
    view = views[next] as Int32Array;
    pteLo = view[idx * 2] as number;
    return (
      (pteLo & PTE_TYPE_MASK) === PTE_TYPE_TABLE &&
      this.hit(LAST_LEVEL, pteLo, view[idx * 2 + 1] as number, lo)
    );
  }

  /** Records the leaf a walk ended at and the physical address: the leaf's output bits, the IOVA's offset. */
  private hit(level: number, pteLo: number, pteHi: number, lo: number): boolean {
    const addrLo = LEAF_ADDR_LO[level] as number;
    this.leafLo = pteLo;
    this.leafHi = pteHi;
    this.leafAt = level;
    this.physHi = pteHi & PTE_ADDR_HI_MASK;
    this.physLo = (pteLo & addrLo) | (lo & ~addrLo);
    return true;
  }
}
