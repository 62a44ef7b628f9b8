import { DmaDirection, type DmaMapping, type DmaOpsKind } from '@sharedbuf/dma-mapping';
import { deviceReadText } from '@sharedbuf/example-kit';
import { type Device, type KResult, ok, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';

/** What one call of the driver routine did on one device. */
export interface DriverRun {
  readonly device: string;
  readonly iommu: string | null;
  readonly dmaOps: DmaOpsKind;
  readonly phys: number;
  /** The DMA address the device was given. */
  readonly dma: number;
  /** Whether the DMA API copied the buffer into a bounce slot (swiotlb) first. */
  readonly bounced: boolean;
  /** What the device read at `dma`. */
  readonly read: string;
}

const encoder = new TextEncoder();

/**
 * One driver routine for every device (seed 000, Arnd Bergmann: "allow a device driver to work
 * without knowing if the hardware can, cannot or must use an IOMMU"): the CPU fills a buffer, hands
 * it to the device with `dma_map_page` (which does the cache maintenance and picks the device's own
 * IOMMU, swiotlb or nothing), the device reads it, and the buffer is unmapped. The device, not the
 * driver, decides which IOMMU is used. Errors: whatever the map refuses with.
 */
export const sendToDevice = (
  dma: DmaMapping,
  dev: Device,
  phys: number,
  text: string,
): KResult<DriverRun> => {
  const bytes = encoder.encode(text);
  unwrap(dma.platform.cpu.write(phys, bytes, 0, bytes.length));
  let bounced = false;
  const stop = dma.bus.on('map', (e) => {
    bounced = e.bounced;
  });
  const mapped = dma.mapPage(dev, phys, 4096, DmaDirection.TO_DEVICE);
  stop();
  if (E.isLeft(mapped)) return mapped;
  const read = deviceReadText(dev, mapped.right, bytes.length);
  unwrap(dma.dmaUnmapPageAttrs(dev, mapped.right, 4096, DmaDirection.TO_DEVICE));
  return ok({
    device: dev.name,
    iommu: dev.iommu?.instance ?? null,
    dmaOps: dma.opsKind(dev),
    phys,
    dma: mapped.right,
    bounced,
    read,
  });
};
