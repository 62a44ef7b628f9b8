import type { DmaDebugDevice } from './device.js';
import { directionAllows } from './direction.js';
import type { PhysPiece, TrackedEntry } from './entry.js';
import type { IntervalIndex } from './interval-index.js';

/** Why a device access was refused: nothing mapped there, the wrong direction, or the CPU owns it. */
export type DeviceAccessFault = 'not-mapped' | 'wrong-direction' | 'cpu-owned';

/** The first byte of a device access that breaks the ownership rules, and why. */
export interface DeviceAccessViolation {
  readonly fault: DeviceAccessFault;
  /** Device address of the first offending byte. */
  readonly addr: number;
  /** The mapping blamed (undefined when nothing is mapped there). */
  readonly entry: TrackedEntry | undefined;
}

/**
 * The model's check of a device's DMA to `[busAddr, busAddr + size)` against its own mappings: every
 * byte must lie in some mapping of this device whose direction allows the access
 * (`dma_info_to_prot()`) and which the device owns (mapped or synced for the device, or coherent).
 * Returns the first byte that fails, or undefined; it allocates only when reporting.
 */
export const findDeviceAccessViolation = (
  index: IntervalIndex<TrackedEntry> | undefined,
  busAddr: number,
  size: number,
  write: boolean,
): DeviceAccessViolation | undefined => {
  const end = busAddr + size;
  let x = busAddr;
  while (x < end) {
    let goodEnd = x;
    let covering: TrackedEntry | undefined;
    let allowing: TrackedEntry | undefined;
    const n = index?.size ?? 0;
    for (let i = index?.scanFrom(x) ?? 0; i < n; i++) {
      const e = (index as IntervalIndex<TrackedEntry>).at(i);
      if (e.start > x) break;
      if (e.end <= x) continue;
      covering ??= e;
      if (!directionAllows(e.direction, write)) continue;
      allowing ??= e;
      const own = e.ownership;
      if (own === undefined) {
        goodEnd = Math.max(goodEnd, e.end);
      } else if (!own.cpuOwns(x - e.start)) {
        goodEnd = Math.max(goodEnd, e.start + own.runEnd(x - e.start, e.size));
      }
    }
    if (goodEnd === x) {
      const fault =
        covering === undefined ? 'not-mapped' : allowing === undefined ? 'wrong-direction' : 'cpu-owned';
      return { fault, addr: x, entry: allowing ?? covering };
    }
    x = goodEnd;
  }
  return undefined;
};

/** The first byte of a CPU access that the device owns, and the mapping piece it falls in. */
export interface CpuAccessViolation {
  readonly phys: number;
  readonly piece: PhysPiece;
}

/**
 * The model's check of a CPU access to physical `[phys, phys + size)`: no byte may belong to a
 * streaming mapping (of `dev`, or of any device when undefined) that the device owns. Returns the
 * lowest such byte, or undefined; it allocates only when reporting.
 */
export const findCpuAccessViolation = (
  byPhys: IntervalIndex<PhysPiece>,
  dev: DmaDebugDevice | undefined,
  phys: number,
  size: number,
): CpuAccessViolation | undefined => {
  const end = phys + size;
  let best = end;
  let bestPiece: PhysPiece | undefined;
  for (let i = byPhys.scanFrom(phys); i < byPhys.size; i++) {
    const p = byPhys.at(i);
    if (p.start >= end) break;
    if (p.end <= phys || (dev !== undefined && p.entry.dev !== dev) || p.entry.ownership === undefined)
      continue;
    const s = Math.max(phys, p.start);
    const off = p.offset + (s - p.start);
    const first = p.entry.ownership.firstDeviceOwned(off, off + (Math.min(end, p.end) - s));
    if (first >= 0 && s + (first - off) < best) {
      best = s + (first - off);
      bestPiece = p;
    }
  }
  return bestPiece === undefined ? undefined : { phys: best, piece: bestPiece };
};
