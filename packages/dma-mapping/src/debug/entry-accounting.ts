/** `PREALLOC_DMA_DEBUG_ENTRIES`: entries preallocated at boot unless `dma_debug_entries=` says otherwise. */
export const PREALLOC_DMA_DEBUG_ENTRIES = 65536;

/**
 * `DMA_DEBUG_DYNAMIC_ENTRIES`: entries added each time the pool runs dry, `PAGE_SIZE /
 * sizeof(struct dma_debug_entry)` with a 128-byte cacheline-aligned entry on 64-bit kernels.
 */
export const DMA_DEBUG_DYNAMIC_ENTRIES = 32;

/**
 * The counters of the kernel's `dma_debug_entry` free list (`dma_entry_alloc()`,
 * `dma_entry_free()`, `dma_debug_create_entries()`), shown in debugfs as `num_free_entries`,
 * `min_free_entries` and `nr_total_entries`. Only the numbers are modelled: the pool grows by a page
 * of entries whenever it is empty, and never shrinks.
 */
export class EntryAccounting {
  numFreeEntries: number;
  minFreeEntries: number;
  nrTotalEntries: number;

  /** @param prealloc entries requested at boot, rounded up to whole pages as `dma_debug_init()`. */
  constructor(prealloc: number) {
    this.nrTotalEntries = Math.ceil(prealloc / DMA_DEBUG_DYNAMIC_ENTRIES) * DMA_DEBUG_DYNAMIC_ENTRIES;
    this.numFreeEntries = this.nrTotalEntries;
    this.minFreeEntries = this.numFreeEntries;
  }

  /** One entry taken from the pool. */
  alloc(): void {
    if (this.numFreeEntries === 0) {
      this.numFreeEntries += DMA_DEBUG_DYNAMIC_ENTRIES;
      this.nrTotalEntries += DMA_DEBUG_DYNAMIC_ENTRIES;
    }
    this.numFreeEntries -= 1;
    this.minFreeEntries = Math.min(this.minFreeEntries, this.numFreeEntries);
  }

  /** One entry returned to the pool. */
  free(): void {
    this.numFreeEntries += 1;
  }
}
