import type { DmaDirection } from './direction.js';
import type { DmaDebugEntryType, MapErrType } from './entry.js';
import type { DmaDebugFinding } from './finding.js';

/**
 * The events of a {@link DmaDebug} bus, one per state change: a mapping entered or left the
 * tables, `dma_mapping_error()` was seen, ownership of a byte range moved, a finding was recorded,
 * the findings list was cleared, or checking was switched on or off.
 */
export type DmaDebugEvents = {
  'entry-add': {
    device: string;
    type: DmaDebugEntryType;
    devAddr: number;
    size: number;
    phys: number;
    direction: DmaDirection;
  };
  'entry-remove': { device: string; type: DmaDebugEntryType; devAddr: number; size: number };
  'map-error-checked': { device: string; devAddr: number; mapErrType: MapErrType };
  /** `devAddr`/`size`: the range that changed hands; `entryAddr`: the mapping it belongs to. */
  ownership: { device: string; entryAddr: number; devAddr: number; size: number; owner: 'cpu' | 'device' };
  finding: DmaDebugFinding;
  'findings-cleared': { count: number };
  enabled: { enabled: boolean };
};
