import { hex, isPow2, PAGE_SHIFT, pow2 } from '../core/address.js';
import type { EventBus } from '../core/event-bus.js';
import { fail, type KResult, ok } from '../core/kernel-error.js';
import { Bitmap } from './bitmap.js';
import type { MemoryEvents } from './memory-events.js';
import type { ReservedRegion } from './reserved-region.js';

const OK: KResult<void> = ok(undefined);

/** Options of the {@link Carveout} constructor. */
export interface CarveoutOptions {
  /** log2 of the allocation granule in bytes (`min_alloc_order` of `gen_pool_create`); PAGE_SHIFT by default. */
  readonly minAllocOrder?: number | undefined;
}

/**
 * A carveout: a named range of memory reserved at boot for one purpose (a `/reserved-memory` node a
 * driver manages itself, often `no-map`), with a general-purpose allocator over it as drivers build
 * with `lib/genalloc.c`. Allocations are first fit on a bitmap of granules (`gen_pool_first_fit_align`),
 * and their addresses are aligned in absolute terms.
 *
 * Like genalloc, the pool tracks granules, not allocations: any allocated part may be freed on its own.
 * Freeing a granule that is not allocated is refused (genalloc calls it a bug and crashes).
 */
export class Carveout {
  /** The region's name (the reserved-memory node's name). */
  readonly name: string;
  /** Physical base address. */
  readonly base: number;
  /** Size in bytes. */
  readonly size: number;
  /** Allocation granule in bytes (2^minAllocOrder). */
  readonly granule: number;
  private readonly bitmap: Bitmap;
  private readonly units: number;
  private used = 0;

  /**
   * @param bus the memory bus, for carveout-alloc and carveout-free events.
   * @throws RangeError when the region is empty or not a whole number of granules at a granule boundary.
   */
  constructor(
    region: ReservedRegion,
    private readonly bus: EventBus<MemoryEvents>,
    options: CarveoutOptions = {},
  ) {
    const order = options.minAllocOrder ?? PAGE_SHIFT;
    this.granule = pow2(order);
    if (!Number.isInteger(order) || order < 0 || region.size <= 0) {
      throw new RangeError(`carveout ${region.name}: needs a non-empty size and an integer granule order`);
    }
    if (region.base % this.granule !== 0 || region.size % this.granule !== 0) {
      throw new RangeError(
        `carveout ${region.name}: base and size must be multiples of ${this.granule} bytes`,
      );
    }
    this.name = region.name;
    this.base = region.base;
    this.size = region.size;
    this.units = region.size / this.granule;
    this.bitmap = new Bitmap(this.units);
  }

  /** Free bytes (`gen_pool_avail`). */
  get availableBytes(): number {
    return (this.units - this.used) * this.granule;
  }

  /**
   * `gen_pool_alloc_algo(pool, size, gen_pool_first_fit_align, {align})`: the lowest free range of
   * `size` bytes (rounded up to granules) whose address is a multiple of `align`. Returns its
   * physical address.
   *
   * Errors: EINVAL for a size that is not a positive integer or an `align` that is not a power of two;
   * ENOMEM when no free range fits, with detail `{region, size, align, availableBytes}`.
   */
  alloc(size: number, align: number): KResult<number> {
    if (!Number.isSafeInteger(size) || size < 1 || !isPow2(align)) {
      return fail(
        'EINVAL',
        `carveout ${this.name}: size must be a positive integer and align a power of two`,
        {
          region: this.name,
          size,
          align,
        },
      );
    }
    const nr = Math.ceil(size / this.granule);
    const unitAlign = Math.max(1, Math.ceil(align / this.granule));
    const offset = Math.floor((this.base % align) / this.granule);
    const index = this.bitmap.findNextZeroArea(this.units, 0, nr, unitAlign, offset);
    if (index < 0) {
      return fail(
        'ENOMEM',
        `carveout ${this.name} has no free ${size}-byte range aligned to ${hex(align)} (${this.availableBytes} bytes free in all)`,
        { region: this.name, size, align, availableBytes: this.availableBytes },
      );
    }
    this.bitmap.set(index, nr);
    this.used += nr;
    const addr = this.base + index * this.granule;
    if (this.bus.active) this.bus.emit('carveout-alloc', { region: this.name, addr, size });
    return ok(addr);
  }

  /**
   * `gen_pool_free(pool, addr, size)`: returns `size` bytes (rounded up to granules) at `addr`.
   *
   * Errors: EINVAL when the range is not inside the carveout, `addr` is not on a granule boundary, or
   * some granule of it is not allocated (a double free). A failed call changes nothing.
   */
  free(addr: number, size: number): KResult<void> {
    const offset = addr - this.base;
    const nr = Math.ceil(size / this.granule);
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(size) || size < 1 || offset < 0) {
      return this.badFree(addr, size, 'it is not a positive range inside the carveout');
    }
    if (offset % this.granule !== 0)
      return this.badFree(addr, size, `it is not on a ${this.granule}-byte boundary`);
    const index = offset / this.granule;
    if (index + nr > this.units) return this.badFree(addr, size, 'it runs past the end of the carveout');
    const free = this.bitmap.findNextZeroBit(index + nr, index);
    if (free < index + nr) {
      return this.badFree(
        addr,
        size,
        `the granule at ${hex(this.base + free * this.granule)} is not allocated`,
      );
    }
    this.bitmap.clear(index, nr);
    this.used -= nr;
    if (this.bus.active) this.bus.emit('carveout-free', { region: this.name, addr, size });
    return OK;
  }

  private badFree(addr: number, size: number, why: string): KResult<never> {
    return fail('EINVAL', `carveout ${this.name}: cannot free ${size} bytes at ${hex(addr)}: ${why}`, {
      region: this.name,
      addr,
      size,
    });
  }
}
