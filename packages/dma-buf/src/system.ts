import { DmaMapping, Swiotlb, type SwiotlbOptions } from '@sharedbuf/dma-mapping';
import { IommuCore, type IommuHardware, pageAllocatorTables } from '@sharedbuf/iommu';
import { type MachineConfig, Platform, type TraceRecorder, unwrap } from '@sharedbuf/platform';
import { DmaBufCore } from './buffer/dma-buf-core.js';

/** What to build: the machine, its IOMMU instances, and how the DMA API is set up. */
export interface SystemConfig {
  readonly machine?: Partial<MachineConfig>;
  /** IOMMU hardware instances to register (none by default). */
  readonly iommus?: readonly IommuHardware[];
  /** A swiotlb pool (default: a 4 MiB pool); `false` for none. */
  readonly swiotlb?: SwiotlbOptions | false;
  /** DMA debug on (default) or off. */
  readonly dmaDebug?: boolean;
  /** Devices whose every streaming mapping is bounced. */
  readonly forceBounce?: readonly string[];
}

/** The whole stack of one machine, wired bottom-up. */
export interface SharedBufSystem {
  readonly platform: Platform;
  readonly iommu: IommuCore;
  readonly swiotlb: Swiotlb | undefined;
  readonly dma: DmaMapping;
  readonly dmabuf: DmaBufCore;
  /** A trace recorder listening to every bus of every layer. */
  recorder(): TraceRecorder;
}

/**
 * Builds a machine and every layer on it — platform, IOMMU core (with its instances), swiotlb, the
 * DMA API and the dma-buf core — as a driver's probe order would: the entry point for examples and
 * pipeline models. IO page tables take their pages from the machine's page allocator.
 * @throws for an inconsistent description (a model set-up bug).
 */
export const createSystem = (config: SystemConfig = {}): SharedBufSystem => {
  const platform = new Platform(config.machine);
  const iommu = new IommuCore({
    memory: platform.memory,
    tables: pageAllocatorTables(platform.pages),
  });
  for (const hw of config.iommus ?? []) unwrap(iommu.registerHardware(hw));
  const swiotlb = config.swiotlb === false ? undefined : new Swiotlb(platform, config.swiotlb ?? {});
  const dma = new DmaMapping({
    platform,
    iommu,
    ...(swiotlb ? { swiotlb } : {}),
    debug: config.dmaDebug ?? true,
    forceBounce: config.forceBounce ?? [],
  });
  const dmabuf = new DmaBufCore({ platform, dma, iommu });
  const recorder = (): TraceRecorder => {
    const r = platform.recorder();
    r.record(iommu.bus).record(dma.bus).record(dma.debug.bus).record(dmabuf.bus).record(dmabuf.fences.bus);
    if (swiotlb) r.record(swiotlb.events);
    return r;
  };
  return { platform, iommu, swiotlb, dma, dmabuf, recorder };
};
