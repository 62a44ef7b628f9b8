import {
  fail,
  type KResult,
  MAX_PAGE_ORDER,
  ok,
  PAGE_SIZE,
  type Platform,
  unwrap,
} from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { DmaChunk } from './cpu-view.js';
import type { DmaBacking } from './dma-allocation.js';

/** Pages gathered for an allocation. */
export interface GatheredPages {
  readonly chunks: DmaChunk[];
  readonly backing: DmaBacking[];
}

const orderFor = (pages: number): number => Math.ceil(Math.log2(pages));

/**
 * Physically contiguous pages below `maxAddress` (`__dma_direct_alloc_pages`): the default CMA region
 * first for more than one page (`dma_alloc_contiguous`), then the buddy allocator.
 */
export const allocContiguous = (
  platform: Platform,
  size: number,
  maxAddress: number,
): KResult<GatheredPages> => {
  const pages = Math.ceil(size / PAGE_SIZE);
  const cma = platform.defaultCma;
  if (pages > 1 && cma !== undefined) {
    const pfn = cma.alloc(pages, 0, { maxAddress });
    if (E.isRight(pfn)) {
      platform.clearPages(pfn.right * PAGE_SIZE, pages * PAGE_SIZE); // dma_alloc_* memory is zeroed
      return ok({
        chunks: [{ phys: pfn.right * PAGE_SIZE, length: pages * PAGE_SIZE }],
        backing: [{ kind: 'cma', region: cma.name }],
      });
    }
  }
  const order = orderFor(pages);
  if (order > MAX_PAGE_ORDER) {
    return fail(
      'ENOMEM',
      `no contiguous ${size}-byte block below ${maxAddress.toString(16)}: too large for the buddy allocator and the CMA region`,
      { size, maxAddress },
    );
  }
  const pfn = platform.pages.allocPages(order, { maxAddress, zeroed: true });
  if (E.isLeft(pfn)) return pfn;
  return ok({
    chunks: [{ phys: pfn.right * PAGE_SIZE, length: 2 ** order * PAGE_SIZE }],
    backing: [{ kind: 'buddy', order }],
  });
};

/**
 * Pages for an IOMMU-backed allocation (`__iommu_dma_alloc_pages`): the largest blocks that fit the
 * remaining size (up to 2 MiB), smaller ones when those run out, single pages with
 * `ALLOC_SINGLE_PAGES`. They need not be contiguous: the IOMMU makes them so.
 */
export const allocScattered = (
  platform: Platform,
  size: number,
  singlePages: boolean,
): KResult<GatheredPages> => {
  const out: GatheredPages = { chunks: [], backing: [] };
  let left = Math.ceil(size / PAGE_SIZE);
  while (left > 0) {
    let order = singlePages ? 0 : Math.min(9, Math.floor(Math.log2(left)));
    let pfn = platform.pages.allocPages(order, { zeroed: true });
    while (E.isLeft(pfn) && order > 0) {
      order -= 1;
      pfn = platform.pages.allocPages(order, { zeroed: true });
    }
    if (E.isLeft(pfn)) {
      freeGathered(platform, out);
      return pfn;
    }
    out.chunks.push({ phys: pfn.right * PAGE_SIZE, length: 2 ** order * PAGE_SIZE });
    out.backing.push({ kind: 'buddy', order });
    left -= 2 ** order;
  }
  return ok(out);
};

/** Returns gathered pages to where they came from. */
export const freeGathered = (platform: Platform, pages: GatheredPages): void => {
  pages.backing.forEach((b, i) => {
    const c = pages.chunks[i]!;
    if (b.kind === 'cma')
      unwrap(platform.cma.get(b.region)!.release(c.phys / PAGE_SIZE, c.length / PAGE_SIZE));
    else unwrap(platform.pages.freePages(c.phys / PAGE_SIZE, b.order));
  });
};
