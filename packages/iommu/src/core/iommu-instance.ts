import type { Device } from '@sharedbuf/platform';
import type { IommuHardware } from '../hardware/iommu-hardware.js';
import { Iotlb } from '../iotlb/iotlb.js';
import type { IommuDomain } from './iommu-domain.js';

/**
 * One registered IOMMU hardware instance (`struct iommu_device`): its description, its own IOTLB,
 * the devices behind it and the paging domains occupying its translation contexts.
 */
export class IommuInstance {
  /** The instance's translation cache. */
  readonly iotlb: Iotlb;
  /** Devices probed behind this instance. */
  readonly devices = new Set<Device>();
  /** Paging domains holding one of its contexts (context banks). */
  readonly contexts = new Set<IommuDomain>();

  constructor(readonly hw: IommuHardware) {
    const ways = 4;
    const sets = Math.max(1, 2 ** Math.floor(Math.log2(Math.max(ways, hw.iotlbEntries) / ways)));
    this.iotlb = new Iotlb({ sets, ways, name: `iotlb:${hw.name}` });
  }

  /** The instance name. */
  get name(): string {
    return this.hw.name;
  }
}
