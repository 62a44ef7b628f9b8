/**
 * The direction of a streaming DMA transfer, `enum dma_data_direction`
 * (`include/linux/dma-direction.h`), with the kernel's values. The DMA mapping layer reuses this.
 */
export const DmaDirection = {
  /** `DMA_BIDIRECTIONAL`: the device may read and write the buffer. */
  BIDIRECTIONAL: 0,
  /** `DMA_TO_DEVICE`: the device only reads the buffer. */
  TO_DEVICE: 1,
  /** `DMA_FROM_DEVICE`: the device only writes the buffer. */
  FROM_DEVICE: 2,
  /** `DMA_NONE`: no transfer; only valid as a debugging placeholder. */
  NONE: 3,
} as const;

/** One of the {@link DmaDirection} values, 0..3. */
export type DmaDirection = (typeof DmaDirection)[keyof typeof DmaDirection];

const DIR_NAMES: readonly string[] = ['DMA_BIDIRECTIONAL', 'DMA_TO_DEVICE', 'DMA_FROM_DEVICE', 'DMA_NONE'];

/** The kernel's name of a direction, as `dir2name[]` in `kernel/dma/debug.c` (e.g. `DMA_TO_DEVICE`). */
export const dmaDirectionName = (dir: DmaDirection): string => DIR_NAMES[dir] ?? `DMA_INVALID(${dir})`;

/**
 * True when a device access of the given kind is allowed by a mapping's direction. It follows
 * `dma_info_to_prot()` (`drivers/iommu/dma-iommu.c`): TO_DEVICE grants read only, FROM_DEVICE write
 * only, BIDIRECTIONAL both, NONE nothing.
 */
export const directionAllows = (dir: DmaDirection, write: boolean): boolean =>
  dir === DmaDirection.BIDIRECTIONAL ||
  (write ? dir === DmaDirection.FROM_DEVICE : dir === DmaDirection.TO_DEVICE);
