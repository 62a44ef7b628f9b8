import { type EventBus, fail, type KResult, ok } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { PhysRun } from '../constraints/segment-split.js';
import { formatBytes } from '../constraints/units.js';
import type { HeapEvents } from './heap-events.js';

/**
 * The memory behind one buffer, as a heap handed it out: the heap buffer's page list or sg table
 * (`system_heap_buffer.sg_table`, `cma_heap_buffer.cma_pages`). Exporters build attachments' tables
 * from `runs`; migration copies run by run.
 */
export interface Backing {
  /** Name of the heap it came from. */
  readonly heap: string;
  /** Physically contiguous runs in buffer order; their lengths add up to `size`. */
  readonly runs: readonly PhysRun[];
  /** Buffer size in bytes, a whole number of pages. */
  readonly size: number;
  /** True once {@link free} has succeeded. */
  readonly freed: boolean;
  /**
   * The heap buffer's `release`: returns every block to the allocator it came from, once.
   *
   * Errors: EINVAL when the backing was already freed (a second free is refused, never performed);
   * EBUSY when a page is still pinned or referenced by someone else (`unpin`/`putPage` first), or
   * EINVAL when a block was freed behind the heap's back — the allocator's own error, with `heap`
   * added to its detail. A failed call frees nothing.
   */
  free(): KResult<void>;
}

/**
 * Returns a backing's blocks to their allocator: either all of them, or — when some block cannot go
 * back — none, with that block's error.
 */
export type BlockRelease = () => KResult<void>;

const OK: KResult<void> = ok(undefined);

class HeapBacking implements Backing {
  private released = false;

  constructor(
    readonly heap: string,
    readonly runs: readonly PhysRun[],
    readonly size: number,
    private readonly release: BlockRelease,
    private readonly bus: EventBus<HeapEvents>,
  ) {}

  get freed(): boolean {
    return this.released;
  }

  free(): KResult<void> {
    if (this.released) {
      return fail(
        'EINVAL',
        `the ${formatBytes(this.size)} backing from heap '${this.heap}' was already freed: a second free would free memory someone else may own now`,
        { heap: this.heap, size: this.size },
      );
    }
    const result = this.release();
    if (E.isLeft(result)) {
      const e = result.left;
      return fail(e.code, `heap '${this.heap}' cannot free the backing: ${e.message}`, {
        ...e.detail,
        heap: this.heap,
      });
    }
    this.released = true;
    if (this.bus.active) {
      this.bus.emit('heap-free', { heap: this.heap, size: this.size, runs: this.runs.length });
    }
    return OK;
  }
}

/**
 * Wraps freshly allocated blocks as a {@link Backing} and announces them with `heap-alloc`.
 * @internal for the heaps of this folder.
 */
export const handOutBacking = (
  heap: string,
  runs: readonly PhysRun[],
  size: number,
  maxAddress: number,
  release: BlockRelease,
  bus: EventBus<HeapEvents>,
): Backing => {
  if (bus.active) bus.emit('heap-alloc', { heap, size, runs: runs.length, maxAddress });
  return new HeapBacking(heap, runs, size, release, bus);
};
