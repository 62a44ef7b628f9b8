/** One live bounce buffer, as reported by `Swiotlb.mappings()`. */
export interface SwiotlbMapping {
  /** Device that mapped it. */
  readonly device: string;
  /** Original buffer's physical address. */
  readonly orig: number;
  /** Bounce buffer's physical address, as `mapSingle` returned it. */
  readonly tlb: number;
  /** Mapping size in bytes. */
  readonly size: number;
  /** First slot of the allocation (padding slots included). */
  readonly slot: number;
  /** Slots the allocation holds. */
  readonly nslots: number;
}

const NONE = -1;

/**
 * What the kernel keeps in `struct io_tlb_slot` for a live mapping (`orig_addr`, `alloc_size`,
 * `pad_slots`), kept per allocation instead: indexed by the allocation's first slot, with every
 * slot pointing back to that first slot. This lets the model tell an address that starts a mapping
 * from one inside it or in no mapping at all — which the kernel cannot, and where it would corrupt
 * its free lists — and refuse the call.
 *
 * Typed arrays sized once for the pool: recording and forgetting a mapping allocates nothing.
 */
export class BounceMappings {
  private readonly head: Int32Array;
  private readonly nslots: Int32Array;
  private readonly tlb: Float64Array;
  private readonly orig: Float64Array;
  private readonly size: Float64Array;
  private readonly device: string[];
  private live = 0;

  constructor(nslabs: number) {
    this.head = new Int32Array(nslabs).fill(NONE);
    this.nslots = new Int32Array(nslabs);
    this.tlb = new Float64Array(nslabs);
    this.orig = new Float64Array(nslabs);
    this.size = new Float64Array(nslabs);
    this.device = new Array<string>(nslabs).fill('');
  }

  /** Live mappings. */
  get count(): number {
    return this.live;
  }

  /** Records a mapping whose allocation is `nslots` slots from `slot`. */
  add(slot: number, nslots: number, tlb: number, orig: number, size: number, device: string): void {
    this.head.fill(slot, slot, slot + nslots);
    this.nslots[slot] = nslots;
    this.tlb[slot] = tlb;
    this.orig[slot] = orig;
    this.size[slot] = size;
    this.device[slot] = device;
    this.live += 1;
  }

  /** Forgets the mapping whose allocation starts at `slot`. */
  remove(slot: number): void {
    this.head.fill(NONE, slot, slot + (this.nslots[slot] as number));
    this.device[slot] = '';
    this.live -= 1;
  }

  /** The first slot of the allocation holding `slot`, or -1 when the slot is free. */
  allocationOf(slot: number): number {
    return this.head[slot] ?? NONE;
  }

  /** Slots of the allocation starting at `slot`. */
  slotsAt(slot: number): number {
    return this.nslots[slot] as number;
  }

  /** Bounce address returned for the allocation starting at `slot`. */
  tlbAt(slot: number): number {
    return this.tlb[slot] as number;
  }

  /** Original address of the allocation starting at `slot`. */
  origAt(slot: number): number {
    return this.orig[slot] as number;
  }

  /** Mapping size of the allocation starting at `slot`. */
  sizeAt(slot: number): number {
    return this.size[slot] as number;
  }

  /** Device of the allocation starting at `slot`. */
  deviceAt(slot: number): string {
    return this.device[slot] as string;
  }

  /** Every live mapping, by slot (objects: for reports and tests, not hot paths). */
  list(): SwiotlbMapping[] {
    const out: SwiotlbMapping[] = [];
    for (let slot = 0; slot < this.head.length; slot++) {
      if (this.head[slot] !== slot) continue;
      out.push({
        device: this.deviceAt(slot),
        orig: this.origAt(slot),
        tlb: this.tlbAt(slot),
        size: this.sizeAt(slot),
        slot,
        nslots: this.slotsAt(slot),
      });
    }
    return out;
  }
}
