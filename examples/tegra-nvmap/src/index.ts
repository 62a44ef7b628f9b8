import { type IommuApiSideRun, runIommuApiSide } from './iommu-api-side.js';
import type { IovaLayoutEntry } from './iova-layout.js';
import { type NvMapSideRun, type RefusedPlacement, runNvMapSide } from './nvmap-side.js';
import { buildTegraSoc } from './soc.js';

export { NvMap, type NvMapHandle } from './nvmap.js';
export { formatTegraNvMapReport } from './report.js';
export type { IommuApiSideRun, IovaLayoutEntry, NvMapSideRun, RefusedPlacement };

/** Everything the run observed, as plain data. */
export interface TegraNvMapResult {
  /** The display controller: NvMap on the DMA API extensions (Doyu's proposal). */
  readonly nvmap: NvMapSideRun;
  /** The 2D engine: the IOMMU API plus a carved range (Roedel's answer, upstream Tegra DRM). */
  readonly iommuApi: IommuApiSideRun;
  /** DMA debug findings over the whole run. */
  readonly debugFindings: readonly string[];
}

/**
 * Runs seed 004 on a Tegra-like SoC: a memory manager that needs buffers at chosen IOVAs beside
 * ordinary DMA API allocations, done both ways the thread discussed — through the proposed DMA API
 * extensions (`iova_alloc_at`, `map_page_at`, `iova_alloc`) in the device's DMA domain, and through
 * the IOMMU API in an unmanaged domain with a carved range for anonymous buffers.
 * @throws when a step the story depends on fails (a regression).
 */
export const runTegraNvMap = (): TegraNvMapResult => {
  const soc = buildTegraSoc();
  const nvmap = runNvMapSide(soc);
  const iommuApi = runIommuApiSide(soc);
  const debugFindings = soc.system.dma.debug.findings().map((f) => `${f.device}: ${f.kind}: ${f.message}`);
  return { nvmap, iommuApi, debugFindings };
};
