import { cpuWriteClean, deviceReadText } from '@sharedbuf/example-kit';
import { IOMMU_READ, IOMMU_WRITE, IovaDomain, iommuMap, lowestPgsize } from '@sharedbuf/iommu';
import { unwrap } from '@sharedbuf/platform';
import { type IovaLayoutEntry, overlaps, sortLayout } from './iova-layout.js';
import { SMMU, type TegraSoc } from './soc.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** The range at the top of the aperture the driver keeps for its own allocator (tegra-drm's CARVEOUT_SZ). */
const CARVE_SIZE = 64 * MiB;
const RW = IOMMU_READ | IOMMU_WRITE;

/** The 2D engine's IOVA space, built with the IOMMU API and the driver's own allocator. */
export interface IommuApiSideRun {
  readonly device: string;
  readonly domain: string;
  /** The range handed to the driver's own IOVA allocator, inclusive. */
  readonly carve: { readonly start: number; readonly end: number };
  readonly layout: readonly IovaLayoutEntry[];
  readonly overlaps: readonly [string, string][];
}

/**
 * Seed 004, Joerg Roedel's answer: "use the IOMMU-API to initialize the device address space with
 * any mappings at the IOVAs you need … In the end you allocate another free range in the device
 * address space and use that to satisfy DMA-API allocations." This is what upstream Tegra DRM does
 * (drivers/gpu/drm/tegra/drm.c): an unmanaged domain, fixed mappings with `iommu_map` — IOVA 0
 * included, since the IOMMU API has no allocator to keep it back — and an `iova_domain` of its own
 * over a carved range at the top of the aperture for anonymous buffers (`tegra_drm_alloc`). The
 * DMA API cannot serve a device while an unmanaged domain is attached, so the carved range is
 * allocated by the driver's allocator, not by `dma_map_*`. The driver owns the cache maintenance.
 * @throws when a step the story depends on fails (a regression).
 */
export const runIommuApiSide = (soc: TegraSoc): IommuApiSideRun => {
  const { platform, iommu } = soc.system;
  const dev = soc.gr2d;
  const domain = unwrap(iommu.domainAlloc('unmanaged', { instance: SMMU }));
  unwrap(iommu.attachDevice(domain, dev));
  const granule = lowestPgsize(domain.pgsizeBitmap);
  const pages = (size: number, text: string) => {
    const phys = unwrap(platform.pages.allocPages(Math.log2(size / 4096))) * 4096;
    cpuWriteClean(platform, phys, text);
    return phys;
  };
  const entries: Omit<IovaLayoutEntry, 'deviceReads'>[] = [];
  const fixed = (owner: string, iova: number, size: number) => {
    unwrap(iommuMap(domain, iova, pages(size, owner), size, RW));
    entries.push({ iova, size, owner, via: 'iommu_map (fixed)' });
  };
  fixed('boot splash', 0, 64 * KiB);
  fixed('firmware', 0x10_0000, 256 * KiB);

  const end = domain.geometry.apertureEnd;
  const start = end + 1 - CARVE_SIZE;
  const iovad = new IovaDomain(granule, start / granule);
  const anonymous = (owner: string, size: number) => {
    const pfn = unwrap(iovad.allocIova(size / granule, Math.floor(end / granule), true));
    unwrap(iommuMap(domain, pfn * granule, pages(size, owner), size, RW));
    entries.push({ iova: pfn * granule, size, owner, via: 'alloc_iova + iommu_map' });
  };
  anonymous('2d source', 64 * KiB);
  anonymous('2d destination', 64 * KiB);
  anonymous('command buffer', 16 * KiB);

  const layout = sortLayout(entries.map((e) => ({ ...e, deviceReads: deviceReadText(dev, e.iova, 16) })));
  return {
    device: dev.name,
    domain: domain.describe(),
    carve: { start, end },
    layout,
    overlaps: overlaps(layout),
  };
};
