import type { SgTable } from '@sharedbuf/dma-mapping';
import { type Device, fail, type KResult, ok } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';

const OK: KResult<void> = ok(undefined);

/**
 * The device's DMA engine walking a mapped scatterlist: `length` bytes of the buffer, segment by
 * segment at the DMA addresses the table holds (`sg_dma_address` / `sg_dma_len`), through the
 * device's own translation (IOMMU or direct). Writes `src` into the buffer when `write`, else reads
 * the buffer into `dst`. Stops at the first fault and returns it (EFAULT, EIO, …); EINVAL when the
 * table covers fewer than `length` bytes.
 */
const walk = (
  dev: Device,
  sgt: SgTable,
  bytes: Uint8Array,
  length: number,
  write: boolean,
): KResult<void> => {
  let done = 0;
  for (let i = 0; i < sgt.nents && done < length; i++) {
    const n = Math.min(sgt.dmaLength(i), length - done);
    const r = write
      ? dev.dmaWrite(sgt.dmaAddress(i), bytes, done, n)
      : dev.dmaRead(sgt.dmaAddress(i), bytes, done, n);
    if (E.isLeft(r)) return r;
    done += n;
  }
  if (done < length) {
    return fail('EINVAL', `${dev.name}: the scatterlist covers ${done} bytes, the transfer needs ${length}`);
  }
  return OK;
};

/** The device reads the first `length` bytes of the buffer mapped by `sgt` into `dst`. */
export const dmaReadSg = (dev: Device, sgt: SgTable, dst: Uint8Array, length: number): KResult<void> =>
  walk(dev, sgt, dst, length, false);

/** The device writes `src[0, length)` into the buffer mapped by `sgt`. */
export const dmaWriteSg = (dev: Device, sgt: SgTable, src: Uint8Array, length: number): KResult<void> =>
  walk(dev, sgt, src, length, true);
