import type { DomainType } from '../core/domain-type.js';

/** IO page-table formats the model knows (`enum io_pgtable_fmt`). */
export type PgtableFormat = 'arm-lpae-s1' | 'none';

/**
 * What one IOMMU hardware instance can do: the parts of `struct iommu_ops` and
 * `struct iommu_device` a driver engineer configures. Several instances may exist on one platform,
 * each with its own description; the device, not a global, leads to its instance (seed 001).
 */
export interface IommuHardware {
  /** Instance name, e.g. `smmu0`, `msm-gfx-mmu`. */
  readonly name: string;
  /** Which hardware model this is. */
  readonly model: 'arm-smmu' | 'msm-iommu' | 'null';
  /** Page sizes the hardware can map, as a bitmap of byte sizes (`pgsize_bitmap`). */
  readonly pgsizeBitmap: number;
  /** Input address width in bits: the aperture is `[0, 2^iasBits)`. */
  readonly iasBits: number;
  /** IO page-table format its walker reads. */
  readonly format: PgtableFormat;
  /** Number of translation contexts (SMMU context banks); each attached paging domain takes one. */
  readonly contexts: number;
  /** Whether devices behind it can be bound to process address spaces (PASID / SVA). */
  readonly sva: boolean;
  /** Width of PASIDs it accepts (`max_pasids = 2^pasidBits`), 0 without SVA. */
  readonly pasidBits: number;
  /** Domain types it can attach. */
  readonly domainTypes: readonly DomainType[];
  /** The default domain type of groups behind it (`def_domain_type`). */
  readonly defaultDomainType: DomainType;
  /**
   * At most this many devices may sit behind it; the MSM System MMU is wired to exactly one
   * device (seed 001). `Infinity` for shared instances.
   */
  readonly maxDevices: number;
  /**
   * Whether attaching a new domain while a non-default one is attached switches the active page
   * table in place (MSM: "switch out page tables for the IOMMU on the fly", seed 001) instead of
   * the core's EBUSY rule.
   */
  readonly switchOnTheFly: boolean;
  /** IOTLB entries (translations cached until flushed). */
  readonly iotlbEntries: number;
}
