import { EventBus, isPow2, PAGE_SIZE } from '@sharedbuf/platform';
import type { IommuFlushOps, IoPageWalker, IoTranslation } from '../io-pgtable/types.js';

const TWO_32 = 2 ** 32;
const TWO_NEG_32 = 2 ** -32;
const INVALID = -1;
/** Fibonacci hashing constant: spreads address-space ids across sets. */
const ASID_SPREAD = 0x9e37_79b1;

/** Shape of an {@link Iotlb}: `sets × ways` entries, each caching one 4 KiB page. */
export interface IotlbOptions {
  /** Number of sets, a power of two (default 64). */
  readonly sets?: number;
  /** Entries per set (default 4); replacement within a set is round-robin (FIFO). */
  readonly ways?: number;
  /** Event source name (default `iotlb`). */
  readonly name?: string;
}

/** Events of an IOTLB. */
export type IotlbEvents = {
  /** A walk result was cached for the 4 KiB page at `iova` of address space `asid`. */
  fill: { asid: number; iova: number; phys: number; pgsize: number; prot: number };
  /**
   * One invalidation command: everything (`asid` -1), one address space, or one range of it; `dropped`
   * counts the entries it removed.
   */
  flush: { scope: 'all' | 'asid' | 'range'; asid: number; iova: number; size: number; dropped: number };
};

/**
 * An IOMMU's translation cache: it keeps walk results, tagged by address-space id (ASID / domain id)
 * and 4 KiB IOVA page, until software invalidates them. That is why Linux must flush after unmapping:
 * until the flush, a device still reaches the old physical page through the stale entry.
 *
 * Set-associative with round-robin replacement, so eviction is deterministic. Entries live in typed
 * arrays and a lookup allocates nothing. Hits, misses and flush commands are counted.
 */
export class Iotlb {
  /** Events: fill, flush. */
  readonly bus: EventBus<IotlbEvents>;
  /** Number of sets. */
  readonly sets: number;
  /** Entries per set. */
  readonly ways: number;

  private readonly tagAsid: Int32Array;
  private readonly tagVpn: Float64Array;
  private readonly physPage: Float64Array;
  private readonly leafSize: Float64Array;
  private readonly leafProt: Uint8Array;
  private readonly nextVictim: Uint16Array;
  private hitCount = 0;
  private missCount = 0;
  private flushCount = 0;

  /** @throws RangeError when `sets` is not a power of two or `ways` is not in 1..65535. */
  constructor(options: IotlbOptions = {}) {
    const sets = options.sets ?? 64;
    const ways = options.ways ?? 4;
    if (!isPow2(sets)) throw new RangeError(`IOTLB sets ${sets} must be a power of two`);
    if (!Number.isInteger(ways) || ways < 1 || ways > 0xffff)
      throw new RangeError(`IOTLB ways ${ways} invalid`);
    this.sets = sets;
    this.ways = ways;
    const entries = sets * ways;
    this.tagAsid = new Int32Array(entries).fill(INVALID);
    this.tagVpn = new Float64Array(entries);
    this.physPage = new Float64Array(entries);
    this.leafSize = new Float64Array(entries);
    this.leafProt = new Uint8Array(entries);
    this.nextVictim = new Uint16Array(sets);
    this.bus = new EventBus<IotlbEvents>(options.name ?? 'iotlb');
  }

  /** Lookups that found a cached translation. */
  get hits(): number {
    return this.hitCount;
  }

  /** Lookups that found none. */
  get misses(): number {
    return this.missCount;
  }

  /** Invalidation commands executed (each flush call is one command, whatever it covers). */
  get flushes(): number {
    return this.flushCount;
  }

  /** Number of valid entries. */
  get size(): number {
    let n = 0;
    for (const asid of this.tagAsid) if (asid !== INVALID) n++;
    return n;
  }

  /**
   * Looks `iova` up for address space `asid` (a non-negative int32): on a hit fills `out` (physical
   * address of `iova` itself, leaf size, IOMMU_* prot) and returns true. Counts a hit or a miss.
   */
  lookup(asid: number, iova: number, out: IoTranslation): boolean {
    const vpn = Math.floor(iova / PAGE_SIZE);
    const base = this.setOf(asid, iova) * this.ways;
    for (let e = base; e < base + this.ways; e++) {
      if (this.tagAsid[e] === asid && this.tagVpn[e] === vpn) {
        this.hitCount++;
        out.phys = (this.physPage[e] as number) + (iova - vpn * PAGE_SIZE);
        out.pgsize = this.leafSize[e] as number;
        out.prot = this.leafProt[e] as number;
        return true;
      }
    }
    this.missCount++;
    return false;
  }

  /**
   * Caches the translation `t` of `iova` (as a walk returned it) for the 4 KiB page containing `iova`,
   * replacing the set's next victim if the page is not cached yet.
   * @throws RangeError when `asid` is not a non-negative int32 (a caller bug).
   */
  fill(asid: number, iova: number, t: IoTranslation): void {
    if (!((asid | 0) === asid && asid >= 0))
      throw new RangeError(`IOTLB: address-space id ${asid} is not a non-negative int32`);
    const vpn = Math.floor(iova / PAGE_SIZE);
    const offset = iova - vpn * PAGE_SIZE;
    const set = this.setOf(asid, iova);
    const base = set * this.ways;
    let e = base;
    while (e < base + this.ways && !(this.tagAsid[e] === asid && this.tagVpn[e] === vpn)) e++;
    if (e === base + this.ways) {
      const victim = this.nextVictim[set] as number;
      this.nextVictim[set] = victim + 1 === this.ways ? 0 : victim + 1;
      e = base + victim;
    }
    this.tagAsid[e] = asid;
    this.tagVpn[e] = vpn;
    this.physPage[e] = t.phys - offset;
    this.leafSize[e] = t.pgsize;
    this.leafProt[e] = t.prot;
    if (this.bus.active) {
      this.bus.emit('fill', {
        asid,
        iova: vpn * PAGE_SIZE,
        phys: t.phys - offset,
        pgsize: t.pgsize,
        prot: t.prot,
      });
    }
  }

  /**
   * A device access through the IOMMU: the cached translation if there is one, else a table walk whose
   * result is cached. Returns false (and caches nothing) on a translation fault.
   */
  translate(asid: number, iova: number, walker: IoPageWalker, out: IoTranslation): boolean {
    if (this.lookup(asid, iova, out)) return true;
    if (!walker.walk(iova, out)) return false;
    this.fill(asid, iova, out);
    return true;
  }

  /** Invalidates every entry (`tlb_flush_all` across all address spaces, e.g. CMD_TLBI_NSNH_ALL). */
  flushAll(): void {
    let dropped = 0;
    for (let e = 0; e < this.tagAsid.length; e++) {
      if (this.tagAsid[e] !== INVALID) {
        this.tagAsid[e] = INVALID;
        dropped++;
      }
    }
    this.flushed('all', INVALID, 0, 0, dropped);
  }

  /** Invalidates every entry of one address space (`tlb_flush_all` of a domain: TLBI by ASID). */
  flushAsid(asid: number): void {
    let dropped = 0;
    for (let e = 0; e < this.tagAsid.length; e++) {
      if (this.tagAsid[e] === asid) {
        this.tagAsid[e] = INVALID;
        dropped++;
      }
    }
    this.flushed('asid', asid, 0, 0, dropped);
  }

  /**
   * Invalidates the pages of `[iova, iova + size)` in address space `asid` — one range invalidation
   * command, as `iommu_iotlb_sync()` issues for a gathered range.
   */
  flushRange(asid: number, iova: number, size: number): void {
    const firstVpn = Math.floor(iova / PAGE_SIZE);
    const lastVpn = Math.floor((iova + Math.max(size, 1) - 1) / PAGE_SIZE);
    let dropped = 0;
    if (lastVpn - firstVpn < this.sets) {
      // Few pages: probe only the sets they hash to.
      for (let vpn = firstVpn; vpn <= lastVpn; vpn++) {
        const base = this.setOf(asid, vpn * PAGE_SIZE) * this.ways;
        for (let e = base; e < base + this.ways; e++) {
          if (this.tagAsid[e] === asid && this.tagVpn[e] === vpn) {
            this.tagAsid[e] = INVALID;
            dropped++;
          }
        }
      }
    } else {
      for (let e = 0; e < this.tagAsid.length; e++) {
        const vpn = this.tagVpn[e] as number;
        if (this.tagAsid[e] === asid && vpn >= firstVpn && vpn <= lastVpn) {
          this.tagAsid[e] = INVALID;
          dropped++;
        }
      }
    }
    this.flushed('range', asid, iova, size, dropped);
  }

  /**
   * The flush callbacks an IO page table of address space `asid` needs, wired the way arm-smmu-v3 wires
   * them: walk flushes invalidate the range at once, leaf pages go into the caller's gather
   * (`iommu_iotlb_gather_add_page`), flush-all drops the address space.
   */
  flushOps(asid: number): IommuFlushOps {
    return {
      tlbFlushAll: () => this.flushAsid(asid),
      tlbFlushWalk: (iova, size) => this.flushRange(asid, iova, size),
      tlbAddPage: (gather, iova, granule) => gather.addPage(iova, granule),
    };
  }

  private setOf(asid: number, iova: number): number {
    const lo = iova - Math.floor(iova * TWO_NEG_32) * TWO_32;
    return ((lo >>> 12) ^ Math.imul(asid, ASID_SPREAD)) & (this.sets - 1);
  }

  private flushed(
    scope: 'all' | 'asid' | 'range',
    asid: number,
    iova: number,
    size: number,
    dropped: number,
  ): void {
    this.flushCount++;
    if (this.bus.active) this.bus.emit('flush', { scope, asid, iova, size, dropped });
  }
}
