import type { Platform } from '@sharedbuf/platform';

/** What the CPU cache did during a measured stretch. */
export interface CacheWork {
  /** Maintenance calls (clean, invalidate, clean+invalidate by physical range). */
  readonly ops: number;
  /** Bytes those calls covered. */
  readonly bytes: number;
  /** Dirty lines they wrote back to memory. */
  readonly linesWrittenBack: number;
  /** Dirty CPU data an invalidate threw away (must stay 0 on a correct path). */
  readonly dirtyBytesLost: number;
}

/**
 * Counts the cache's own maintenance reports (the `maintenance` and `dirty-discarded` events of the
 * platform's cache bus), so whoever issued them — the DMA API's syncs or the driver's direct
 * maintenance — is measured the same way.
 */
export class CacheMeter {
  private ops = 0;
  private bytes = 0;
  private linesWrittenBack = 0;
  private dirtyBytesLost = 0;

  constructor(platform: Platform) {
    const bus = platform.buses.cache;
    bus.on('maintenance', (e) => {
      this.ops += 1;
      this.bytes += e.length;
      this.linesWrittenBack += e.linesWrittenBack;
    });
    bus.on('dirty-discarded', (e) => {
      this.dirtyBytesLost += e.bytesLost;
    });
  }

  /** Runs `body` and returns what the cache did meanwhile, with `body`'s value. */
  measure<T>(body: () => T): { value: T; work: CacheWork } {
    const before = this.snapshot();
    const value = body();
    const after = this.snapshot();
    return {
      value,
      work: {
        ops: after.ops - before.ops,
        bytes: after.bytes - before.bytes,
        linesWrittenBack: after.linesWrittenBack - before.linesWrittenBack,
        dirtyBytesLost: after.dirtyBytesLost - before.dirtyBytesLost,
      },
    };
  }

  private snapshot(): CacheWork {
    const { ops, bytes, linesWrittenBack, dirtyBytesLost } = this;
    return { ops, bytes, linesWrittenBack, dirtyBytesLost };
  }
}

/** Adds two measurements. */
export const addWork = (a: CacheWork, b: CacheWork): CacheWork => ({
  ops: a.ops + b.ops,
  bytes: a.bytes + b.bytes,
  linesWrittenBack: a.linesWrittenBack + b.linesWrittenBack,
  dirtyBytesLost: a.dirtyBytesLost + b.dirtyBytesLost,
});
