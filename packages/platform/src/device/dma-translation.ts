import type { KernelError } from '../core/kernel-error.js';
import type { Device } from './device.js';

/** Where a {@link DmaTranslation} writes its answer, reused across calls so translating allocates nothing. */
export interface TranslationOut {
  /**
   * Input: the PASID the access carries (a device bound to a process address space tags its DMA
   * with one), or -1 for an access without a PASID. Set by the device before each call.
   */
  pasid: number;
  /** Physical address of the first byte, when the call returned a length > 0. */
  phys: number;
  /** Why the first byte cannot be reached, when the call returned 0. */
  error: KernelError | undefined;
}

/**
 * How a device's bus addresses reach physical memory: directly (`DirectTranslation`, with the
 * platform's `dma-ranges` offset) or through an IOMMU, whose layer installs its own. This is the
 * hardware path taken by every DMA transfer, not the DMA API.
 */
export interface DmaTranslation {
  /**
   * Translates the start of `[busAddr, busAddr + length)`. Returns how many bytes from `busAddr`
   * are physically contiguous (1..length) with `out.phys` set to the first one's address, or 0 with
   * `out.error` set when `busAddr` itself faults. A fault the translation resolves itself (such as
   * a serviced page request) is not a fault here.
   */
  translate(device: Device, busAddr: number, length: number, write: boolean, out: TranslationOut): number;
}
