import { type PageAllocator, unwrap } from '@sharedbuf/platform';
import type { IoPgtablePageSource } from './types.js';

/**
 * IO page-table pages from a machine's buddy allocator, zeroed — what `iommu_alloc_pages_node_sz()`
 * gives io-pgtable in the kernel. A table page handed back must be free-able; a failure there is a
 * bug in the model, so it throws.
 */
export const pageAllocatorTables = (pages: PageAllocator): IoPgtablePageSource => ({
  allocTable: () => pages.allocPages(0, { zeroed: true }),
  freeTable: (pfn) => unwrap(pages.freePages(pfn, 0)),
});
