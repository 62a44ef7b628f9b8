import { DmaAttr, DmaDirection, type DmaMapping } from '@sharedbuf/dma-mapping';
import { type Device, fail, type KResult, ok, PAGE_SIZE, type Platform, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { DESCRIPTOR_SIZE } from './gpu-job.js';

/**
 * The GPU's command ring: one page of kernel memory holding job descriptors, which the GPU fetches
 * without a PASID, through its DMA-API (default-domain) address.
 *
 * It is mapped once, at probe, with `DMA_ATTR_SKIP_CPU_SYNC` — seed 002's "map memory first, and do
 * the initial cache flushes later" — and each descriptor is flushed when it is submitted: the CPU
 * takes the slot (`dma_sync_single_for_cpu`), writes it through the cache, and hands it back
 * (`dma_sync_single_for_device`, a clean of one line on a non-coherent GPU). DMA debug checks every
 * step: the CPU never writes a slot the GPU owns, the GPU never reads one the CPU owns.
 */
export class GpuRing {
  /** Descriptor slots in the ring. */
  readonly slots = PAGE_SIZE / DESCRIPTOR_SIZE;

  private constructor(
    private readonly platform: Platform,
    private readonly dma: DmaMapping,
    private readonly gpu: Device,
    private readonly pfn: number,
    /** The ring's DMA address in the GPU's default domain. */
    readonly dmaAddr: number,
  ) {}

  /**
   * Allocates and maps the ring for `gpu`. Errors: ENOMEM without a free page; the DMA API's error
   * when the mapping fails (then the page is freed again).
   */
  static create(platform: Platform, dma: DmaMapping, gpu: Device): KResult<GpuRing> {
    const pfn = platform.pages.allocPages(0, { zeroed: true });
    if (E.isLeft(pfn)) return pfn;
    const phys = pfn.right * PAGE_SIZE;
    // The page was zeroed in memory: whatever lines a previous owner left cached are dead.
    unwrap(platform.cache.discard(phys, PAGE_SIZE));
    const mapped = dma.mapPage(gpu, phys, PAGE_SIZE, DmaDirection.TO_DEVICE, DmaAttr.SKIP_CPU_SYNC);
    if (E.isLeft(mapped)) {
      unwrap(platform.pages.freePages(pfn.right, 0));
      return mapped;
    }
    return ok(new GpuRing(platform, dma, gpu, pfn.right, mapped.right));
  }

  /** The DMA address of `slot`'s descriptor. */
  slotAddr(slot: number): number {
    return this.dmaAddr + slot * DESCRIPTOR_SIZE;
  }

  /**
   * Writes a descriptor into `slot` and flushes it for the GPU. Errors: EINVAL for a slot outside
   * the ring; the DMA API's sync errors.
   */
  write(slot: number, descriptor: Uint8Array): KResult<void> {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots)
      return fail('EINVAL', `ring slot ${slot} is not in 0..${this.slots - 1}`, { slot });
    const dmaAddr = this.slotAddr(slot);
    const taken = this.dma.dmaSyncSingleForCpu(this.gpu, dmaAddr, DESCRIPTOR_SIZE, DmaDirection.TO_DEVICE);
    if (E.isLeft(taken)) return taken;
    const phys = this.pfn * PAGE_SIZE + slot * DESCRIPTOR_SIZE;
    const written = this.platform.cpu.write(phys, descriptor, 0, DESCRIPTOR_SIZE);
    if (E.isLeft(written)) return written;
    return this.dma.dmaSyncSingleForDevice(this.gpu, dmaAddr, DESCRIPTOR_SIZE, DmaDirection.TO_DEVICE);
  }

  /** Unmaps and frees the ring (driver remove). Errors: the DMA API's unmap error. */
  destroy(): KResult<void> {
    const unmapped = this.dma.dmaUnmapPageAttrs(this.gpu, this.dmaAddr, PAGE_SIZE, DmaDirection.TO_DEVICE);
    if (E.isLeft(unmapped)) return unmapped;
    return this.platform.pages.freePages(this.pfn, 0);
  }
}
