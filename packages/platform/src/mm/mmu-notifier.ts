import type { Mm } from './mm.js';

/**
 * Why a range is invalidated (`enum mmu_notifier_event`): `unmap` when its pages go away (munmap,
 * MAP_FIXED replacement), `protection-vma` when mprotect takes permissions away.
 */
export type MmuNotifyEvent = 'unmap' | 'protection-vma';

/**
 * A secondary MMU following a process address space (`struct mmu_notifier` and its ops), such as a
 * GPU or an IOMMU in SVA mode. `invalidateRange` is `invalidate_range_start`: called before the
 * page-table entries of `[start, end)` are cleared and their pages released, so the listener must
 * drop its own translations there. `release` is called once when the address space is torn down,
 * before any page is freed; the notifier is unregistered afterwards.
 */
export interface MmuNotifier {
  invalidateRange(mm: Mm, start: number, end: number, event: MmuNotifyEvent): void;
  release?(mm: Mm): void;
}

/**
 * The notifiers registered on one mm (`struct mmu_notifier_subscriptions`). Calls go to a snapshot
 * of the list, so a notifier may unregister itself from its own callback.
 */
export class MmuNotifierList {
  private notifiers: MmuNotifier[] = [];

  /** Number of registered notifiers. */
  get size(): number {
    return this.notifiers.length;
  }

  /** `mmu_notifier_register`: returns the `mmu_notifier_unregister` function (idempotent). */
  register(notifier: MmuNotifier): () => void {
    this.notifiers = [...this.notifiers, notifier];
    return () => {
      this.notifiers = this.notifiers.filter((n) => n !== notifier);
    };
  }

  /** `mmu_notifier_invalidate_range_start` to every notifier. */
  invalidateRange(mm: Mm, start: number, end: number, event: MmuNotifyEvent): void {
    for (const n of this.notifiers) n.invalidateRange(mm, start, end, event);
  }

  /** `__mmu_notifier_release`: unhooks every notifier, then calls its `release`. */
  release(mm: Mm): void {
    const all = this.notifiers;
    this.notifiers = [];
    for (const n of all) n.release?.(mm);
  }
}
