import type { DmaResvUsageName } from '../fence/events.js';

/**
 * How a fence in a reservation object uses the buffer (`enum dma_resv_usage`, include/linux/dma-resv.h).
 * The order matters: asking for usage U returns the fences of every usage up to and including U.
 * - `KERNEL`: kernel memory management (moves, clears); everyone waits for these.
 * - `WRITE`: implicit write synchronization; a new reader waits for these.
 * - `READ`: implicit read synchronization; a new writer waits for these and the writes.
 * - `BOOKKEEP`: no implicit synchronization; only memory management waits for these.
 */
export const DmaResvUsage = { KERNEL: 0, WRITE: 1, READ: 2, BOOKKEEP: 3 } as const;

/** One of {@link DmaResvUsage}'s values. */
export type DmaResvUsage = (typeof DmaResvUsage)[keyof typeof DmaResvUsage];

/** Every usage, in order. */
export const DMA_RESV_USAGES: readonly DmaResvUsage[] = [
  DmaResvUsage.KERNEL,
  DmaResvUsage.WRITE,
  DmaResvUsage.READ,
  DmaResvUsage.BOOKKEEP,
];

const NAMES: Readonly<Record<DmaResvUsage, DmaResvUsageName>> = {
  0: 'kernel',
  1: 'write',
  2: 'read',
  3: 'bookkeep',
};

/** The usage's name in traces. */
export const dmaResvUsageName = (usage: DmaResvUsage): DmaResvUsageName => NAMES[usage];

/**
 * `dma_resv_usage_rw`: the usage to wait for before an implicit-sync access. A new write waits for
 * reads and writes (`READ`); a new read waits only for writes (`WRITE`).
 */
export const dmaResvUsageRw = (write: boolean): DmaResvUsage =>
  write ? DmaResvUsage.READ : DmaResvUsage.WRITE;
