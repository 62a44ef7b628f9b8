import type { EventBus } from '@sharedbuf/platform';
import { ActiveCachelines } from './active-cachelines.js';
import { hasSkipCpuSync } from './attrs.js';
import type { DmaDebugDevice } from './device.js';
import { DmaDirection } from './direction.js';
import type { TrackedEntry } from './entry.js';
import { EntryAccounting } from './entry-accounting.js';
import { EntryTable } from './entry-table.js';
import type { DmaDebugEvents } from './events.js';
import type { DmaDebugFinding, DmaDebugFindingKind } from './finding.js';
import { DebugMessages as M } from './messages.js';

/** What the checks need to know of the configuration. */
export interface DebugConfig {
  readonly isMappingError: (dev: DmaDebugDevice, dmaAddr: number) => boolean;
  readonly cacheLineSize: number;
  readonly checkSgSegments: boolean;
  readonly preallocEntries: number;
}

/**
 * The state of `kernel/dma/debug.c` shared by every check: the entry table, the active-cacheline
 * tree, the entry pool counters, `error_count`, and the recorded findings; with the two table
 * updates (`add_dma_entry()`, `dma_entry_free()`) and `err_printk()`.
 */
export class DebugState {
  readonly table = new EntryTable();
  readonly found: DmaDebugFinding[] = [];
  readonly pool: EntryAccounting;
  errorCount = 0;
  private readonly cachelines = new ActiveCachelines();

  constructor(
    readonly bus: EventBus<DmaDebugEvents>,
    readonly config: DebugConfig,
  ) {
    this.pool = new EntryAccounting(config.preallocEntries);
  }

  /** `err_printk()`: counts, records and emits one finding. */
  report(
    kind: DmaDebugFindingKind,
    device: string,
    message: string,
    detail: Readonly<Record<string, unknown>>,
  ): void {
    this.errorCount += 1;
    const finding: DmaDebugFinding = { kind, device, message, detail };
    this.found.push(finding);
    this.bus.emit('finding', finding);
  }

  /** `add_dma_entry()`: table, pool, then the overlapping-cacheline check. */
  addEntry(e: TrackedEntry, attrs: number): void {
    this.table.add(e);
    this.pool.alloc();
    if (this.bus.active) {
      const { devAddr, size, phys, direction } = e;
      this.bus.emit('entry-add', { device: e.dev.name, type: e.type, devAddr, size, phys, direction });
    }
    if (e.direction === DmaDirection.TO_DEVICE) return;
    const cln = Math.floor(e.phys / this.config.cacheLineSize);
    if (this.cachelines.insert(cln) && !hasSkipCpuSync(attrs)) {
      this.report('cacheline-overlap', e.dev.name, M.cachelineOverlap(), {
        cacheline: cln * this.config.cacheLineSize,
        devAddr: e.devAddr,
        size: e.size,
        direction: e.direction,
      });
    }
  }

  /** `hash_bucket_del()` then `dma_entry_free()`. */
  removeEntry(e: TrackedEntry): void {
    if (e.direction !== DmaDirection.TO_DEVICE)
      this.cachelines.remove(Math.floor(e.phys / this.config.cacheLineSize));
    this.table.remove(e);
    this.pool.free();
    if (this.bus.active) {
      this.bus.emit('entry-remove', { device: e.dev.name, type: e.type, devAddr: e.devAddr, size: e.size });
    }
  }
}
