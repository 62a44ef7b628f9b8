/**
 * The kernel's `dma_active_cacheline` radix tree: for every live mapping the device may write
 * (direction other than TO_DEVICE), the cacheline holding its first byte, with a count of the
 * mappings starting there. A second mapping starting in the same cacheline means the CPU and the
 * device could each hold part of the line: `active_cacheline_insert()` returns -EEXIST. The kernel's
 * cap of 7 counted overlaps (radix tree tags) is not modelled: the count is exact.
 */
export class ActiveCachelines {
  private readonly counts = new Map<number, number>();

  /** Records a mapping starting in cacheline `cln`; true when one already started there (EEXIST). */
  insert(cln: number): boolean {
    const n = this.counts.get(cln) ?? 0;
    this.counts.set(cln, n + 1);
    return n > 0;
  }

  /** Forgets one mapping starting in cacheline `cln`. */
  remove(cln: number): void {
    const n = this.counts.get(cln) ?? 0;
    if (n <= 1) this.counts.delete(cln);
    else this.counts.set(cln, n - 1);
  }
}
