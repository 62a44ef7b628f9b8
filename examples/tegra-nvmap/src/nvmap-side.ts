import { type DmaAllocation, DmaAttr, DmaDirection } from '@sharedbuf/dma-mapping';
import { deviceReadText, expectRefusal, type Refusal } from '@sharedbuf/example-kit';
import { lowestPgsize } from '@sharedbuf/iommu';
import { type Device, type Platform, unwrap } from '@sharedbuf/platform';
import { coveredBy, type IovaLayoutEntry, overlaps, sortLayout } from './iova-layout.js';
import { NvMap, type NvMapHandle } from './nvmap.js';
import type { TegraSoc } from './soc.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const { TO_DEVICE, BIDIRECTIONAL } = DmaDirection;
const encoder = new TextEncoder();

/** A placement NvMap asked for and was refused. */
export interface RefusedPlacement {
  readonly what: string;
  readonly iova: number;
  readonly size: number;
  readonly refusal: Refusal;
}

/** The display controller's IOVA space after NvMap and ordinary DMA API users shared it. */
export interface NvMapSideRun {
  readonly device: string;
  readonly domain: string;
  /** First IOVA the DMA domain's allocator may hand out. */
  readonly allocatorFirstIova: number;
  readonly layout: readonly IovaLayoutEntry[];
  readonly overlaps: readonly [string, string][];
  /** Entries the DMA domain's allocator does not know about (none expected). */
  readonly unknownToAllocator: readonly string[];
  readonly refused: readonly RefusedPlacement[];
}

/** The CPU stores `text` at `phys`; the DMA API's map does the cache maintenance afterwards. */
const fill = (platform: Platform, phys: number, text: string): number => {
  const bytes = encoder.encode(text);
  unwrap(platform.cpu.write(phys, bytes, 0, bytes.length));
  return phys;
};

/**
 * Seed 004, as Hiroshi Doyu proposed it: NvMap places the firmware, the boot splash framebuffer (a
 * carveout the boot loader left scanning out) and the IRAM vectors at fixed IOVAs with
 * `iova_alloc_at` + `map_page_at`, takes an anonymous range with `iova_alloc`, and then ordinary DMA
 * API users (`dma_map_page`, `dma_alloc_attrs`) allocate from the same DMA domain. NvMap also tries
 * IOVA 0 (refused: the DMA domain's allocator starts at pfn 1, as `iommu_dma_init_domain`), a range
 * over its own framebuffer and one over a streaming mapping (both EEXIST).
 * @throws when a step the story depends on fails (a regression).
 */
export const runNvMapSide = (soc: TegraSoc): NvMapSideRun => {
  const { platform, dma, iommu } = soc.system;
  const dev = soc.dc;
  const carveout = platform.carveouts.get('carveout')!;
  const page = (order = 0) => unwrap(platform.pages.allocPages(order, { maxAddress: 0xffff_ffff })) * 4096;
  const nvmap = new NvMap(dma, dev);
  const refused: RefusedPlacement[] = [];
  const tryPin = (what: string, phys: number, iova: number, size: number) =>
    refused.push({
      what,
      iova,
      size,
      refusal: expectRefusal(nvmap.pinAt(what, phys, iova, size, TO_DEVICE), what),
    });

  tryPin('boot splash at IOVA 0', fill(platform, page(4), 'splash'), 0, 64 * KiB);
  const fw = unwrap(carveout.alloc(256 * KiB, 64 * KiB));
  unwrap(nvmap.pinAt('firmware', fill(platform, fw, 'tegra firmware'), 0x10_0000, 256 * KiB, TO_DEVICE));
  const fb = unwrap(carveout.alloc(8 * MiB, 2 * MiB));
  unwrap(
    nvmap.pinAt('splash framebuffer', fill(platform, fb, 'splash frame'), 0xfe00_0000, 8 * MiB, TO_DEVICE),
  );
  const vectors = fill(platform, page(4), 'iram vectors');
  unwrap(nvmap.pinAt('iram vectors', vectors, 0xffff_0000, 64 * KiB, BIDIRECTIONAL));
  const scratch = unwrap(nvmap.reserve('scratch', 1 * MiB));
  unwrap(nvmap.mapInto(scratch, 0, fill(platform, page(), 'scratch piece 0'), 4 * KiB, BIDIRECTIONAL));
  unwrap(nvmap.mapInto(scratch, 64 * KiB, fill(platform, page(), 'scratch piece 1'), 4 * KiB, BIDIRECTIONAL));
  tryPin('overlay over the framebuffer', page(8), 0xfe40_0000, 1 * MiB);

  const streaming = ['cursor', 'gamma lut', 'overlay plane'].map((name) => {
    const phys = fill(platform, page(), name);
    return { name, dma: unwrap(dma.mapPage(dev, phys, 4 * KiB, TO_DEVICE)) };
  });
  const ring = unwrap(dma.dmaAllocAttrs(dev, 64 * KiB));
  unwrap(ring.cpu!.write(0, encoder.encode('command ring'), 0, 12));
  const scanout = unwrap(dma.dmaAllocAttrs(dev, 2 * MiB, DmaAttr.NO_KERNEL_MAPPING));
  const first = streaming[0]!;
  tryPin(`a range over the ${first.name} mapping`, page(), first.dma, 4 * KiB);

  const domain = iommu.domainOf(dev)!;
  const granule = lowestPgsize(domain.pgsizeBitmap);
  const layout = sortLayout([
    ...nvmap.handles().map((h) => nvmapEntry(dev, h)),
    ...streaming.map((s) => entry(dev, s.name, s.dma, 4 * KiB, 'dma_map_page')),
    allocEntry(dev, 'command ring', ring),
    allocEntry(dev, 'scanout buffer', scanout, 'dma_alloc_attrs(NO_KERNEL_MAPPING)'),
  ]);
  const ranges = domain.iovad!.ranges();
  return {
    device: dev.name,
    domain: domain.describe(),
    allocatorFirstIova: domain.iovad!.startPfn * granule,
    layout,
    overlaps: overlaps(layout),
    unknownToAllocator: layout.filter((e) => !coveredBy(e, ranges, granule)).map((e) => e.owner),
    refused,
  };
};

const entry = (dev: Device, owner: string, iova: number, size: number, via: string): IovaLayoutEntry => ({
  iova,
  size,
  owner,
  via,
  deviceReads: deviceReadText(dev, iova, 16),
});

const nvmapEntry = (dev: Device, h: NvMapHandle): IovaLayoutEntry =>
  entry(
    dev,
    `nvmap: ${h.name}`,
    h.iova,
    h.size,
    h.kind === 'fixed' ? 'iova_alloc_at + map_page_at' : 'iova_alloc',
  );

const allocEntry = (dev: Device, owner: string, a: DmaAllocation, via = 'dma_alloc_attrs'): IovaLayoutEntry =>
  entry(dev, owner, a.dmaAddr, a.size, via);
