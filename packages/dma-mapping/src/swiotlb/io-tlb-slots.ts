import { PAGE_SIZE } from '@sharedbuf/platform';
import { isSpanBoundary, lowAnd, maskClear, maskOr } from './align.js';
import { IO_TLB_SEGSIZE, IO_TLB_SIZE, ioTlbOffset, nrSlots } from './io-tlb.js';

/**
 * The slot allocator of one swiotlb pool (`struct io_tlb_pool` with a single `struct io_tlb_area`,
 * `kernel/dma/swiotlb.c`). `list[i]` is the kernel's `slots[i].list`: how many free slots follow from
 * `i` to the end of its segment of `IO_TLB_SEGSIZE` slots, 0 for a used slot. A search starts at the
 * area's cursor (`area->index`), which moves past each allocation, so successive mappings spread over
 * the pool instead of reusing its first slots.
 *
 * The search ({@link search}) and the allocation ({@link claim}) are split so that a caller can check
 * the slot it would get before committing to it; the kernel does both under the area lock.
 */
export class IoTlbSlots {
  private readonly list: Int32Array;
  private cursor = 0;
  private usedSlots = 0;

  /** @param nslabs slots in the pool, a multiple of `IO_TLB_SEGSIZE` (checked by the caller). */
  constructor(readonly nslabs: number) {
    this.list = new Int32Array(nslabs);
    for (let i = 0; i < nslabs; i++) this.list[i] = IO_TLB_SEGSIZE - ioTlbOffset(i);
  }

  /** Slots currently allocated (`area->used`). */
  get used(): number {
    return this.usedSlots;
  }

  /** `slots[slot].list`: free slots from `slot` to its segment's end, 0 when `slot` is in use. */
  freeRunAt(slot: number): number {
    return this.list[slot] ?? 0;
  }

  /** The longest run of free slots anywhere in the pool (for messages). */
  longestFreeRun(): number {
    let best = 0;
    for (let i = 0; i < this.nslabs; i++) best = Math.max(best, this.list[i] as number);
    return best;
  }

  /**
   * The search of `swiotlb_search_pool_area()` (Linux ≥ 6.9, `kernel/dma/swiotlb.c`) without the
   * commit: the first slot, scanning from the cursor, where `nrSlots(allocSize)` free slots start
   * such that
   * - the slot's bus address is aligned to `allocAlignMask | (IO_TLB_SIZE - 1)`, where a streaming
   *   mapping of a page or more with neither an `allocAlignMask` nor a `minAlignMask` gets
   *   `PAGE_SIZE - 1` (the historical page alignment the kernel keeps for drivers relying on it);
   * - the slot's bus address agrees with `origAddr` in the `minAlignMask` bits above that alignment
   *   (skipped when `origAddr` is 0, as the kernel does);
   * - the run does not cross the device's segment boundary (`iommu_is_span_boundary`);
   * - the run stays inside one segment (`list[slot] >= nslots`).
   * Once a slot passes the alignment test the scan steps by the alignment's stride, as the kernel does.
   * Returns -1 when no slot fits. Changes nothing.
   *
   * @param tblDmaAddr the pool start's bus address masked by `boundaryMask` (`tbl_dma_addr`).
   * @param boundaryMask the device's segment boundary mask, 2^k − 1.
   */
  search(
    origAddr: number,
    allocSize: number,
    allocAlignMask: number,
    minAlignMask: number,
    tblDmaAddr: number,
    boundaryMask: number,
  ): number {
    const nslots = nrSlots(allocSize);
    if (nslots > this.nslabs - this.usedSlots) return -1;
    let alignMask = allocAlignMask;
    if (alignMask === 0 && minAlignMask === 0 && allocSize >= PAGE_SIZE) alignMask = PAGE_SIZE - 1;
    alignMask = maskOr(alignMask, IO_TLB_SIZE - 1);
    const iotlbAlignMask = maskClear(minAlignMask, alignMask);
    const stride = Math.floor(Math.max(alignMask, iotlbAlignMask) / IO_TLB_SIZE) + 1;
    const maxSlots = Math.floor(boundaryMask / IO_TLB_SIZE) + 1;
    const shift = nrSlots(tblDmaAddr);
    const origBits = lowAnd(origAddr, iotlbAlignMask);
    let index = this.cursor;
    for (let checked = 0; checked < this.nslabs; ) {
      const slotAddr = tblDmaAddr + index * IO_TLB_SIZE;
      if (
        lowAnd(slotAddr, alignMask) !== 0 ||
        (origAddr !== 0 && lowAnd(slotAddr, iotlbAlignMask) !== origBits)
      ) {
        index = this.wrap(index + 1);
        checked += 1;
        continue;
      }
      if (!isSpanBoundary(index, nslots, shift, maxSlots) && (this.list[index] as number) >= nslots) {
        return index;
      }
      index = this.wrap(index + stride);
      checked += stride;
    }
    return -1;
  }

  /**
   * The commit of `swiotlb_search_pool_area()`: marks `nslots` slots from `slot` used, shortens the
   * free runs before them in the same segment and moves the cursor past them.
   * @throws RangeError when the slots are not free (a caller bug: only claim what {@link search} found).
   */
  claim(slot: number, nslots: number): void {
    if (!(nslots >= 1 && (this.list[slot] ?? 0) >= nslots)) {
      throw new RangeError(`swiotlb: cannot claim ${nslots} slots at ${slot}: they are not free`);
    }
    for (let i = slot; i < slot + nslots; i++) this.list[i] = 0;
    let count = 0;
    for (let i = slot - 1; i >= 0 && ioTlbOffset(i) !== IO_TLB_SEGSIZE - 1 && this.list[i] !== 0; i--) {
      this.list[i] = ++count;
    }
    this.cursor = this.wrap(slot + nslots);
    this.usedSlots += nslots;
  }

  /**
   * `swiotlb_release_slots()`: frees `nslots` slots from `slot`, merging them with the free run after
   * them (within the segment) and lengthening the free runs before them.
   * @throws RangeError when some of the slots are already free (a caller bug).
   */
  release(slot: number, nslots: number): void {
    for (let i = slot; i < slot + nslots; i++) {
      if (this.list[i] !== 0) throw new RangeError(`swiotlb: slot ${i} released twice`);
    }
    const segmentEnd = (Math.floor(slot / IO_TLB_SEGSIZE) + 1) * IO_TLB_SEGSIZE;
    let count = slot + nslots < segmentEnd ? (this.list[slot + nslots] as number) : 0;
    for (let i = slot + nslots - 1; i >= slot; i--) this.list[i] = ++count;
    for (let i = slot - 1; i >= 0 && ioTlbOffset(i) !== IO_TLB_SEGSIZE - 1 && this.list[i] !== 0; i--) {
      this.list[i] = ++count;
    }
    this.usedSlots -= nslots;
  }

  /** `wrap_area_index()`: past the end the scan restarts at slot 0 (not modulo, as the kernel). */
  private wrap(index: number): number {
    return index >= this.nslabs ? 0 : index;
  }
}
