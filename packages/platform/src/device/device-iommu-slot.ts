/**
 * What the platform knows of the IOMMU in front of a device (`dev->iommu`, `struct dev_iommu`):
 * the hardware instance's name and the device's stream/requester ID on it. The IOMMU layer stores
 * an object extending this with its own data; the platform never imports that layer.
 */
export interface DeviceIommuSlot {
  /** Name of the IOMMU instance the device sits behind. */
  readonly instance: string;
  /** The device's stream ID (SMMU) / requester ID (PCI) on that instance. */
  readonly streamId: number;
}
