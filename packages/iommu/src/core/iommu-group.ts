import type { Device } from '@sharedbuf/platform';
import type { IommuDomain } from './iommu-domain.js';
import type { IommuInstance } from './iommu-instance.js';
import { type ResvRegion, resvRegionOverlaps } from './resv-region.js';

/**
 * A set of devices the IOMMU cannot isolate from each other (`struct iommu_group`), e.g. functions
 * behind one bridge. Attach and detach act on the whole group; it has one domain at a time, plus
 * domains attached at PASIDs for SVA.
 */
export class IommuGroup {
  /** Devices in the group, in probe order. */
  readonly devices: Device[] = [];
  /** Reserved regions per device (`iommu_get_resv_regions`). */
  readonly resvRegions = new Map<Device, readonly ResvRegion[]>();
  /** Domains attached at a PASID (`group->pasid_array`). */
  readonly pasidDomains = new Map<number, IommuDomain>();
  /** The domain the group returns to on detach. */
  defaultDomain: IommuDomain;
  /** The domain the group's devices translate through now. */
  domain: IommuDomain;

  constructor(
    readonly id: number,
    readonly instance: IommuInstance,
    /** The topology key devices share (e.g. a bridge), or undefined for a group of one. */
    readonly key: string | undefined,
    defaultDomain: IommuDomain,
  ) {
    this.defaultDomain = defaultDomain;
    this.domain = defaultDomain;
  }

  /** Every reserved region of every device in the group (`iommu_get_group_resv_regions`). */
  allResvRegions(): ResvRegion[] {
    return [...this.resvRegions.values()].flat();
  }

  /** The first reserved region of any device in the group that `[iova, iova + size)` touches. */
  resvOverlap(iova: number, size: number): ResvRegion | undefined {
    for (const regions of this.resvRegions.values()) {
      for (let i = 0; i < regions.length; i++) {
        const r = regions[i] as ResvRegion;
        if (resvRegionOverlaps(r, iova, size)) return r;
      }
    }
    return undefined;
  }

  /** Device names, for events and messages. */
  deviceNames(): string[] {
    return this.devices.map((d) => d.name);
  }
}
