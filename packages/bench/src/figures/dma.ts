import {
  DmaDirection,
  DmaMapping,
  SCATTERLIST_MAX_SEGMENT,
  SgTable,
  sgAllocTableFromPages,
} from '@sharedbuf/dma-mapping';
import {
  armSmmu,
  IOMMU_READ,
  IommuCore,
  type IommuDomain,
  iommuMap,
  pageAllocatorTables,
} from '@sharedbuf/iommu';
import { DEFAULT_MACHINE, type Device, Platform, unwrap } from '@sharedbuf/platform';
import {
  type BenchContext,
  copySourceByte,
  type FigureSet,
  fmt,
  shuffle,
  timeRate,
  timeRatesInterleaved,
  xorshift32,
} from '../harness.js';
import { copyWorkloads, rawSource } from './phys-copy.js';

const GiB = 2 ** 30;
const SG_PAGES = 1024;
const SG_SEED = 0x2545f491;
/** IOVA of the copy buffer in each copy device's domain (2 MiB aligned, so blocks are possible). */
const COPY_IOVA = 0x10_0000_0000;
/** The copy source sits in a carveout at the start of dram1, so no table page is ever allocated in it. */
const COPY_PHYS = 4 * GiB;

/**
 * The default machine with one SMMU and the IOMMU core; with `carveout` > 0, that many bytes at
 * {@link COPY_PHYS} are kept out of the page allocator as one more carveout.
 */
const benchMachine = (carveout = 0) => {
  const extra = { name: 'dma-bench', base: COPY_PHYS, size: carveout };
  const platform = new Platform(carveout === 0 ? {} : { carveouts: [...DEFAULT_MACHINE.carveouts, extra] });
  const iommu = new IommuCore({
    memory: platform.memory,
    tables: pageAllocatorTables(platform.pages),
  });
  unwrap(iommu.registerHardware(armSmmu({ name: 'smmu0' })));
  let streamId = 0;
  const device = (name: string, dmaParms = {}): Device => {
    const dev = unwrap(platform.devices.add({ name, dmaMask: 64, dmaParms }));
    unwrap(iommu.probeDevice(dev, { instance: 'smmu0', streamId: streamId++ }));
    return dev;
  };
  return { platform, iommu, device };
};

/**
 * `dma_map_sg_pages_per_s`: `sg_alloc_table_from_pages` (refilling one table) + `dma_map_sgtable` +
 * `dma_unmap_sgtable` of 1024 scattered pages through an IOMMU-backed device, DMA debug off.
 */
const mapSgRate = (ctx: BenchContext): number => {
  const { platform, iommu, device } = benchMachine();
  const dma = new DmaMapping({ platform, iommu, debug: false });
  const dev = device('sg-bench', { maxSegmentSize: SCATTERLIST_MAX_SEGMENT });
  // Scattered: 1024 frames drawn in shuffled order from 4096 single pages.
  const pool = Array.from({ length: 4 * SG_PAGES }, () => unwrap(platform.pages.allocPages(0)));
  const order = shuffle(pool.length, xorshift32(SG_SEED));
  const pfns = Float64Array.from({ length: SG_PAGES }, (_, i) => pool[order[i]!]!);
  const sgt = new SgTable(SG_PAGES);
  const step = (): number => {
    unwrap(sgAllocTableFromPages(sgt, pfns, 0, SG_PAGES * 4096, SCATTERLIST_MAX_SEGMENT));
    unwrap(dma.dmaMapSgtable(dev, sgt, DmaDirection.TO_DEVICE));
    unwrap(dma.dmaUnmapSgtable(dev, sgt, DmaDirection.TO_DEVICE));
    return SG_PAGES;
  };
  step();
  if (sgt.origNents !== SG_PAGES)
    throw new Error(`map_sg bench: ${sgt.origNents} entries, pages were not scattered`);
  const rate = timeRate(ctx, step);
  ctx.log(
    `dma_map_sg_pages_per_s: ${fmt(rate)}  (${SG_PAGES} scattered pages per map+unmap, ${fmt(rate / SG_PAGES)} tables/s)`,
  );
  return rate;
};

/** An unmanaged domain attached to a fresh copy device, mapping the carveout read-only in `pgsize` pieces. */
const copyDevice = (
  m: ReturnType<typeof benchMachine>,
  name: string,
  region: number,
  pgsize: number,
): { dev: Device; domain: IommuDomain } => {
  const dev = m.device(name);
  const domain = unwrap(m.iommu.domainAlloc('unmanaged', { instance: 'smmu0' }));
  unwrap(m.iommu.attachDevice(domain, dev));
  for (let off = 0; off < region; off += pgsize) {
    unwrap(iommuMap(domain, COPY_IOVA + off, COPY_PHYS + off, pgsize, IOMMU_READ));
  }
  return { dev, domain };
};

/** Checks a few bytes of a destination against the source pattern. */
const verify = (dst: Uint8Array, what: string): void => {
  const probes = [0, 1, 4095, 4096, dst.length >> 1, dst.length - 4097, dst.length - 1];
  for (const i of probes) {
    if (dst[i] !== copySourceByte(i))
      throw new Error(`${what}: byte ${i} is ${dst[i]}, not ${copySourceByte(i)}`);
  }
};

/**
 * `dma_copy_gib_per_s_4k`, `dma_copy_gib_per_s_2m` (BENCH-SPEC "Copies"): a device reads every chunk of
 * a 256 MiB buffer, in the spec's shuffled order, through its IOMMU domain (IOTLB, then table walks)
 * into a plain array; the raw reference copies the same chunks between plain arrays, interleaved.
 */
const dmaCopy = (ctx: BenchContext): Record<string, number> => {
  const out: Record<string, number> = {};
  const workloads = copyWorkloads(ctx.quick);
  const region = workloads[0].region;
  const m = benchMachine(region);
  const src = rawSource(region);
  unwrap(m.platform.memory.write(COPY_PHYS, src, 0, region));
  const rawDst = new Uint8Array(region);
  const dmaDst = new Uint8Array(region);
  for (const w of workloads) {
    const { dev } = copyDevice(m, `copy-${w.key}`, region, w.chunk);
    const { order, chunk } = w;
    // Cleared, so the check below sees this workload's bytes, not the previous one's.
    dmaDst.fill(0);
    const rawPass = (): number => {
      for (let i = 0; i < order.length; i++) {
        const off = order[i]! * chunk;
        rawDst.set(src.subarray(off, off + chunk), off);
      }
      return region;
    };
    const dmaPass = (): number => {
      for (let i = 0; i < order.length; i++) {
        const off = order[i]! * chunk;
        unwrap(dev.dmaRead(COPY_IOVA + off, dmaDst, off, chunk));
      }
      return region;
    };
    dmaPass();
    verify(dmaDst, `dma_copy_${w.key}`);
    const { a: raw, b: viaDma } = timeRatesInterleaved(ctx, rawPass, dmaPass);
    verify(dmaDst, `dma_copy_${w.key}`);
    const gib = viaDma / GiB;
    ctx.log(
      `dma_copy_gib_per_s_${w.key}: ${fmt(gib, 2)}  (ratio to raw ${fmt(viaDma / raw, 3)}; raw Uint8Array.set ${fmt(raw / GiB, 2)} GiB/s)`,
    );
    out[`dma_copy_gib_per_s_${w.key}`] = gib;
  }
  return out;
};

/** The DMA API figures: scatter-gather mapping rate and device DMA copy bandwidth through the IOMMU. */
export const dmaFigures: FigureSet = {
  name: 'DMA API',
  run: (ctx) => ({ dma_map_sg_pages_per_s: mapSgRate(ctx), ...dmaCopy(ctx) }),
};
