import type { DmaMapping, DmaOpsKind } from '@sharedbuf/dma-mapping';
import type { IommuCore } from '@sharedbuf/iommu';
import type { Device } from '@sharedbuf/platform';

/** How one device leads to its IOMMU: the answers a driver gets from the device pointer alone. */
export interface IommuLookup {
  readonly device: string;
  /** `dev->iommu`: the instance the device was probed behind (null: none). */
  readonly iommu: string | null;
  readonly streamId: number | null;
  /** `iommu_group_get(dev)`: the group's id and the instance that owns the group. */
  readonly group: number | null;
  readonly groupInstance: string | null;
  /** `iommu_get_domain_for_dev(dev)`, described. */
  readonly domain: string | null;
  /** `get_dma_ops(dev)`: which DMA ops serve it. */
  readonly dmaOps: DmaOpsKind;
}

/**
 * Seed 001, Arnd Bergmann: "The primary key is always the device pointer." Everything about a
 * device's IOMMU is found from the device, never from a global "the IOMMU".
 */
export const lookupIommu = (iommu: IommuCore, dma: DmaMapping, dev: Device): IommuLookup => {
  const group = iommu.groupOf(dev);
  return {
    device: dev.name,
    iommu: dev.iommu?.instance ?? null,
    streamId: dev.iommu?.streamId ?? null,
    group: group?.id ?? null,
    groupInstance: group?.instance.name ?? null,
    domain: iommu.domainOf(dev)?.describe() ?? null,
    dmaOps: dma.opsKind(dev),
  };
};
