import { hex } from '../core/address.js';
import { maskLimit } from '../core/dma-mask.js';
import { kernelError } from '../core/kernel-error.js';
import type { PhysicalMemory } from '../memory/physical-memory.js';
import type { Device } from './device.js';
import type { DmaTranslation, TranslationOut } from './dma-translation.js';

/**
 * The highest bus address a device can emit without an IOMMU: `min_not_zero(*dev->dma_mask,
 * dev->bus_dma_limit)`, the bound `dma_capable()` checks (`include/linux/dma-direct.h`).
 */
export const dmaDirectLimit = (device: Device): number => {
  const mask = maskLimit(device.dmaMask);
  return device.busDmaLimit === 0 ? mask : Math.min(mask, device.busDmaLimit);
};

/**
 * Bus addresses without an IOMMU: physical = bus + `dmaRangeOffset` (`translate_dma_to_phys`,
 * `include/linux/dma-direct.h`). An address above {@link dmaDirectLimit} cannot be driven on the
 * device's address lines, and one that lands outside RAM reaches nothing: both are refused as
 * EFAULT faults — the address is never truncated to the mask.
 *
 * The streaming mask is the device's addressing limit here; the coherent mask only constrains
 * where the DMA layer may allocate coherent buffers.
 */
export class DirectTranslation implements DmaTranslation {
  /** @param memory the RAM the device's bus reaches. */
  constructor(private readonly memory: PhysicalMemory) {}

  /** See {@link DmaTranslation.translate}; contiguous runs end at the DMA limit or a RAM bank's end. */
  translate(device: Device, busAddr: number, length: number, write: boolean, out: TranslationOut): number {
    if (out.pasid >= 0) {
      out.error = kernelError(
        'EFAULT',
        `${device.name}: a PASID-tagged access needs an IOMMU to translate it`,
        {
          device: device.name,
          busAddr,
          write,
          pasid: out.pasid,
        },
      );
      return 0;
    }
    const limit = dmaDirectLimit(device);
    if (!Number.isSafeInteger(busAddr) || busAddr < 0 || busAddr > limit) {
      out.error = kernelError(
        'EFAULT',
        `${device.name}: bus address ${hex(busAddr)} is above the device's DMA limit ${hex(limit)} ` +
          `(dma mask ${device.dmaMask.bits} bits, bus_dma_limit ${hex(device.busDmaLimit)})`,
        { device: device.name, busAddr, write, limit },
      );
      return 0;
    }
    const phys = busAddr + device.dmaRangeOffset;
    const bank = phys >= 0 ? this.memory.bankOf(phys) : undefined;
    if (bank === undefined) {
      out.error = kernelError(
        'EFAULT',
        `${device.name}: bus address ${hex(busAddr)} maps to physical ${hex(phys)}, which is not RAM ` +
          `(dma-ranges offset ${device.dmaRangeOffset})`,
        { device: device.name, busAddr, write, phys },
      );
      return 0;
    }
    out.phys = phys;
    return Math.min(length, limit - busAddr + 1, bank.base + bank.size - phys);
  }
}
