import {
  type Carveout,
  EventBus,
  type KResult,
  ok,
  PAGE_SIZE,
  type Platform,
  unwrap,
} from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { BackingPlan } from '../constraints/backing-plan.js';
import { describeHeap, type FreeRange } from '../constraints/described-heap.js';
import type { HeapCapabilities } from '../constraints/heap-capabilities.js';
import { formatBytes } from '../constraints/units.js';
import { type Backing, handOutBacking } from './backing.js';
import { type DmaHeap, type HeapOptions, heapEnomem, pageLimit, planMismatch } from './dma-heap.js';
import type { HeapEvents } from './heap-events.js';
import { RegionLedger } from './region-ledger.js';

/** Options of the {@link CarveoutHeap} constructor. */
export interface CarveoutHeapOptions extends HeapOptions {
  /** The carveout is protected (secure) memory: only attachers that ask for protected memory may use it. */
  readonly protected?: boolean | undefined;
}

/**
 * A carveout heap: buffers carved from a region reserved at boot, with a `gen_pool` over it — the
 * ION carveout heap (`ion_carveout_heap.c`, removed from staging in 5.11) and the vendor heaps that
 * followed it, which mainline never merged. Each buffer is one contiguous, zeroed block, the lowest
 * free one that fits (`gen_pool_first_fit_align`). Marked protected, it models a secure carveout.
 *
 * The heap takes the carveout for itself, as those heaps did. Capabilities come from its own
 * ledger, exactly, while it is the carveout's only user. If someone else allocates from the
 * carveout (its used bytes disagree with the ledger), `Carveout` cannot say where, and the heap
 * answers optimistically, as if all free bytes formed one block at the bottom: an upper bound.
 */
export class CarveoutHeap implements DmaHeap {
  readonly name: string;
  readonly kind = 'carveout' as const;
  readonly physicallyContiguous = true;
  readonly chunkSizes: readonly number[] = [];
  readonly minAddress: number;
  readonly maxAddress: number;
  readonly protected: boolean;
  readonly bus: EventBus<HeapEvents>;
  private readonly ledger = new RegionLedger();

  /**
   * @param platform the machine, whose `clearPages` zeroes each buffer through the cache.
   * @param carveout the region to allocate from, one of `platform.carveouts`.
   * @param options name (default: the carveout's), `protected` (default false) and bus.
   * @throws RangeError when the carveout is not RAM of `platform` (a machine description bug).
   */
  constructor(
    private readonly platform: Platform,
    private readonly carveout: Carveout,
    options: CarveoutHeapOptions = {},
  ) {
    if (!platform.memory.isRam(carveout.base, carveout.size)) {
      throw new RangeError(`carveout heap ${carveout.name}: the carveout is not RAM of this machine`);
    }
    this.name = options.name ?? carveout.name;
    this.protected = options.protected ?? false;
    this.bus = options.bus ?? new EventBus<HeapEvents>('dma-heap');
    this.minAddress = carveout.base;
    this.maxAddress = carveout.base + carveout.size - 1;
  }

  largestContiguousFree(maxAddress: number, align = PAGE_SIZE): number {
    return this.view().largestContiguousFree(pageLimit(maxAddress), align);
  }

  freeBytes(maxAddress: number): number {
    return this.view().freeBytes(pageLimit(maxAddress));
  }

  freeChunks(chunkSize: number, maxAddress: number): number {
    return this.view().freeChunks(chunkSize, pageLimit(maxAddress));
  }

  /**
   * `gen_pool_alloc_algo(pool, size, gen_pool_first_fit_align, {align})` for the plan's size and
   * alignment, zeroed. `gen_pool` knows no address limit; its first fit is the lowest block that
   * fits, so a block past `plan.maxAddress` means none fits below it, and the heap returns it at once.
   * Errors as {@link DmaHeap.allocate}; ENOMEM detail adds `alignment` and `availableBytes`.
   */
  allocate(plan: BackingPlan): KResult<Backing> {
    const bad = planMismatch(this, plan);
    if (bad !== undefined) return bad;
    const enomem = (why: string) =>
      heapEnomem(this.name, plan, why, {
        alignment: plan.alignment,
        availableBytes: this.carveout.availableBytes,
      });
    const room = this.largestContiguousFree(plan.maxAddress, plan.alignment);
    if (room < plan.size) {
      return enomem(
        `the largest free ${formatBytes(plan.alignment)}-aligned block of carveout ${this.carveout.name} there is ${formatBytes(room)}`,
      );
    }
    const addr = this.carveout.alloc(plan.size, plan.alignment);
    if (E.isLeft(addr)) return enomem(addr.left.message);
    const phys = addr.right;
    if (phys + plan.size - 1 > plan.maxAddress) {
      unwrap(this.carveout.free(phys, plan.size));
      return enomem(`carveout ${this.carveout.name}'s lowest fitting block ends above the limit`);
    }
    this.platform.clearPages(phys, plan.size);
    const granules = Math.ceil(plan.size / this.carveout.granule) * this.carveout.granule;
    this.ledger.add(phys, granules);
    const release = (): KResult<void> => {
      const r = this.carveout.free(phys, plan.size);
      if (E.isRight(r)) this.ledger.remove(phys);
      return r;
    };
    return ok(
      handOutBacking(this.name, [{ phys, length: plan.size }], plan.size, plan.maxAddress, release, this.bus),
    );
  }

  private view(): HeapCapabilities {
    const c = this.carveout;
    const region = { base: c.base, size: c.size };
    const free: FreeRange[] =
      c.size - c.availableBytes === this.ledger.takenBytes
        ? this.ledger.freeIn(region)
        : c.availableBytes > 0
          ? [{ base: c.base, size: c.availableBytes }]
          : [];
    return describeHeap({ name: this.name, kind: this.kind, free, region, protected: this.protected });
  }
}
