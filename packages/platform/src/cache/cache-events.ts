/** Why a single dirty line reached memory without a maintenance operation asking for it. */
export type WritebackReason = 'eviction' | 'spontaneous';

/** A cache maintenance operation by physical range, as the DMA layer's `arch_sync_dma_*` issue. */
export type CacheMaintenanceOp = 'clean' | 'invalidate' | 'clean-invalidate';

/**
 * Events of a {@link CpuCache} (trace source `cache`). Per-line writebacks are reported only when the
 * hardware chose to do them (eviction, spontaneous); maintenance reports once per call.
 */
export type CacheEvents = {
  /** One dirty line written back to memory by the cache on its own. `addr` is the line's address. */
  writeback: { addr: number; reason: WritebackReason };
  /**
   * An invalidate dropped dirty lines: the CPU's unwritten data in them is lost (the destructive
   * sync Russell King warns about in seed 002). `addr`/`length` are the operation's range;
   * `lineAddrs` the discarded lines in address order; `bytesLost` = lines × 64.
   */
  'dirty-discarded': { addr: number; length: number; bytesLost: number; lineAddrs: number[] };
  /** One maintenance call, with what it did. */
  maintenance: {
    op: CacheMaintenanceOp;
    addr: number;
    length: number;
    linesWrittenBack: number;
    linesInvalidated: number;
  };
  /** A coherent device write snooped cached lines: dirty ones were written back, all were dropped. */
  'snoop-invalidate': { addr: number; length: number; linesWrittenBack: number; linesInvalidated: number };
};
