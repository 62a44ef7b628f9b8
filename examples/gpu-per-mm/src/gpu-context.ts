import type { DmaBuf } from '@sharedbuf/dma-buf';
import type { DmaAllocation } from '@sharedbuf/dma-mapping';
import type { SvaHandle } from '@sharedbuf/iommu';
import type { Process } from '@sharedbuf/platform';

/**
 * A GPU buffer object: driver memory from `dma_alloc_attrs(DMA_ATTR_NO_KERNEL_MAPPING |
 * DMA_ATTR_WRITE_COMBINE)` — no kernel virtual mapping ever exists (seed 002) — mapped write-combined
 * into one process at a chosen address, where the GPU reaches it too.
 */
export interface GpuBo {
  readonly name: string;
  /** User address, which is also the GPU's bus address under the process's PASID. */
  readonly va: number;
  readonly size: number;
  readonly allocation: DmaAllocation;
}

/** A dma-buf imported into a process's GPU address space at a chosen address. */
export interface GpuImport {
  readonly buf: DmaBuf;
  readonly fd: number;
  readonly va: number;
  readonly length: number;
  readonly writable: boolean;
}

/**
 * One process's open GPU file (`struct drm_file` of an SVA-capable driver): the binding of the GPU
 * to the process's mm, whose PASID names the process's GPU address space, and the buffers the driver
 * placed in it.
 */
export class GpuContext {
  readonly bos: GpuBo[] = [];
  readonly imports: GpuImport[] = [];
  closed = false;

  constructor(
    readonly process: Process,
    readonly sva: SvaHandle,
  ) {}

  /** The PASID tagging this process's GPU accesses. */
  get pasid(): number {
    return this.sva.pasid;
  }
}
