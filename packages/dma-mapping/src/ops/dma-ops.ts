import type { Device, KResult } from '@sharedbuf/platform';
import type { DmaDirection } from '../debug/direction.js';
import type { SgTable } from '../scatterlist/sg-table.js';

/** Which implementation of the DMA API serves a device (`get_dma_ops(dev)`, seed 001). */
export type DmaOpsKind = 'direct' | 'swiotlb' | 'iommu';

/**
 * One implementation of the streaming DMA API (`struct dma_map_ops`). Cache maintenance for
 * non-coherent devices happens inside, exactly where the kernel's ops do it.
 */
export interface DmaMapOps {
  readonly kind: DmaOpsKind;
  /** `map_phys`/`map_page`: a DMA address for `[phys, phys + size)`. */
  mapPhys(dev: Device, phys: number, size: number, dir: DmaDirection, attrs: number): KResult<number>;
  /** `unmap_phys`/`unmap_page`. EINVAL when `dma` is not a live mapping (nothing changes). */
  unmapPhys(dev: Device, dma: number, size: number, dir: DmaDirection, attrs: number): KResult<void>;
  /**
   * `map_sg`: fills the table's DMA side and `nents`. `iovaAlign` (IOMMU ops only, a model
   * extension) asks for a start address aligned to it.
   */
  mapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs: number, iovaAlign?: number): KResult<void>;
  /** `unmap_sg`. */
  unmapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs: number): KResult<void>;
  /** `sync_single_for_cpu`: the CPU takes (part of) a mapping back. */
  syncForCpu(dev: Device, dma: number, size: number, dir: DmaDirection): KResult<void>;
  /** `sync_single_for_device`: the device gets (part of) a mapping back. */
  syncForDevice(dev: Device, dma: number, size: number, dir: DmaDirection): KResult<void>;
  /** `sync_sg_for_cpu` / `sync_sg_for_device` over every CPU-side entry of a mapped table. */
  syncSg(dev: Device, sgt: SgTable, dir: DmaDirection, to: 'cpu' | 'device'): KResult<void>;
  /** The physical address behind a DMA address of this device, or -1. */
  dmaToPhys(dev: Device, dma: number): number;
}
