import type { DmaBuf, DmaBufAttachment, DmaBufCore } from '@sharedbuf/dma-buf';
import { DmaDirection, sgDmaSegments } from '@sharedbuf/dma-mapping';
import { type Device, type KResult, ok } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';

/** A captured frame: the exported buffer, the camera's attachment, and the bytes it wrote. */
export interface Capture {
  readonly buf: DmaBuf;
  readonly attachment: DmaBufAttachment;
  readonly frame: Uint8Array;
}

/** The test pattern the camera writes: deterministic, different in every byte position mod 256 × 512. */
export const cameraPattern = (bytes: number): Uint8Array => {
  const frame = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) frame[i] = (i * 7 + Math.floor(i / 512) * 13) % 256;
  return frame;
};

/**
 * A camera without an IOMMU exports a frame buffer and fills it: it attaches (its 32-bit DMA reach
 * decides where the exporter places the pages), maps for `DMA_FROM_DEVICE`, writes the frame
 * segment by segment, and unmaps — the unmap's sync hands the buffer back, with no stale CPU line
 * hiding the camera's data. The exporter may not migrate the buffer: the GPU will map its pages.
 * Errors: the dma-buf layer's (negotiation, mapping), the camera's DMA faults.
 */
export const captureFrame = (
  dmabuf: DmaBufCore,
  camera: Device,
  name: string,
  bytes: number,
): KResult<Capture> => {
  const exported = dmabuf.export({ name, size: bytes });
  if (E.isLeft(exported)) return exported;
  const buf = exported.right;
  const attached = buf.attach(camera);
  if (E.isLeft(attached)) return attached;
  const sgt = buf.mapAttachment(attached.right, DmaDirection.FROM_DEVICE);
  if (E.isLeft(sgt)) return sgt;
  const frame = cameraPattern(bytes);
  let off = 0;
  for (const seg of sgDmaSegments(sgt.right)) {
    const n = Math.min(seg.length, bytes - off);
    const wrote = camera.dmaWrite(seg.dmaAddress, frame, off, n);
    if (E.isLeft(wrote)) return wrote;
    off += n;
  }
  const unmapped = buf.unmapAttachment(attached.right, sgt.right, DmaDirection.FROM_DEVICE);
  if (E.isLeft(unmapped)) return unmapped;
  return ok({ buf, attachment: attached.right, frame });
};
