import type { DmaDirection, DmaMapping } from '@sharedbuf/dma-mapping';
import { type Device, fail, hex, type KResult, ok, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';

/** One range of the device's IOVA space NvMap manages. */
export interface NvMapHandle {
  readonly name: string;
  /** `fixed`: at an address NvMap chose; `anonymous`: wherever the allocator put it. */
  readonly kind: 'fixed' | 'anonymous';
  readonly iova: number;
  readonly size: number;
  /** Pieces mapped so far, by offset in the range (an anonymous range may be mapped piecemeal). */
  readonly pieces: readonly { readonly offset: number; readonly phys: number; readonly size: number }[];
}

type MutableHandle = Omit<NvMapHandle, 'pieces'> & {
  pieces: { offset: number; phys: number; size: number }[];
};

/**
 * A legacy NvMap-style memory manager (seed 004, Hiroshi Doyu) on the DMA API extensions it asked
 * for: `iova_alloc_at` + `map_page_at` to place a buffer at an IOVA of its choosing, `iova_alloc` to
 * take an anonymous range and map into it later. Everything lands in the device's DMA domain and its
 * one IOVA allocator, so the DMA API's own allocations keep clear of it. A failed call changes
 * nothing: a range whose map fails is given back.
 */
export class NvMap {
  private readonly list: MutableHandle[] = [];

  constructor(
    private readonly dma: DmaMapping,
    readonly device: Device,
  ) {}

  /** Every handle, in creation order. */
  handles(): readonly NvMapHandle[] {
    return this.list;
  }

  /**
   * Places `[phys, phys + size)` at exactly `iova`. Errors: EINVAL for an IOVA the allocator cannot
   * hand out (unaligned, or below its first pfn); EEXIST when any of the range is taken.
   */
  pinAt(name: string, phys: number, iova: number, size: number, dir: DmaDirection): KResult<NvMapHandle> {
    const at = this.dma.iovaAllocAt(this.device, iova, size);
    if (E.isLeft(at)) return at;
    const mapped = this.dma.mapPageAt(this.device, phys, iova, size, dir);
    if (E.isLeft(mapped)) {
      unwrap(this.dma.iovaFree(this.device, iova, size));
      return mapped;
    }
    const h: MutableHandle = { name, kind: 'fixed', iova, size, pieces: [{ offset: 0, phys, size }] };
    this.list.push(h);
    return ok(h);
  }

  /** Takes `size` bytes of IOVA space wherever the allocator puts it, mapping nothing yet. Errors: ENOMEM. */
  reserve(name: string, size: number): KResult<NvMapHandle> {
    const at = this.dma.iovaAlloc(this.device, size);
    if (E.isLeft(at)) return at;
    const h: MutableHandle = { name, kind: 'anonymous', iova: at.right, size, pieces: [] };
    this.list.push(h);
    return ok(h);
  }

  /**
   * Maps `[phys, phys + size)` at `offset` inside a reserved range. Errors: EINVAL outside the range
   * or for a handle NvMap does not own; EEXIST over a piece already mapped.
   */
  mapInto(handle: NvMapHandle, offset: number, phys: number, size: number, dir: DmaDirection): KResult<void> {
    const h = this.list.find((x) => x === handle);
    if (h === undefined || offset < 0 || offset + size > h.size) {
      return fail('EINVAL', `${hex(offset)}+${hex(size)} is not inside NvMap handle ${handle.name}`);
    }
    const mapped = this.dma.mapPageAt(this.device, phys, h.iova + offset, size, dir);
    if (E.isLeft(mapped)) return mapped;
    h.pieces.push({ offset, phys, size });
    return ok(undefined);
  }
}
