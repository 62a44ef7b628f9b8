import { isLowMask } from './segment-limits.js';
import type { SgTable } from './sg-table.js';

/**
 * `__finalise_sg()` (`drivers/iommu/dma-iommu.c`): turns per-entry DMA addresses into the DMA
 * segments a driver walks. On entry, every built entry `i` holds in its device side where its first
 * byte landed in IOVA space and its length (`setDma(i, iova, length)`), as `iommu_dma_map_sg()`
 * lays them out; on return the first `nents` device-side slots hold the merged segments, the rest
 * have address and length 0 (Linux poisons the address with `DMA_MAPPING_ERROR`; readers must stop
 * at `nents` either way), and `nents` is set and returned. The CPU side is not touched.
 *
 * An entry joins the open segment when Linux would concatenate it: it starts exactly where the
 * segment ends in IOVA space (Linux: the previous entry filled its IOVA granules to the end and this
 * one starts on a granule, `!s_iova_off`); the result stays within `maxSegmentSize`
 * (`max_len - cur_len >= s_length`); and it does not run into the next `segmentBoundaryMask + 1`
 * window. Linux tests only that the entry does not start on a boundary (`dma_addr & seg_mask`),
 * relying on `iommu_dma_map_sg()` having padded the layout so that no entry crosses one; for such
 * layouts the two tests agree, and for any other input the model's test still never builds a
 * segment across a boundary.
 *
 * Allocates nothing. Throws RangeError for parameters no device can have (a bug in the caller):
 * `maxSegmentSize` not a positive integer, or a mask not 2^k − 1.
 */
export const mergeDmaSegments = (
  table: SgTable,
  maxSegmentSize: number,
  segmentBoundaryMask: number,
): number => {
  if (!Number.isSafeInteger(maxSegmentSize) || maxSegmentSize < 1) {
    throw new RangeError(`max segment size ${maxSegmentSize} is not a positive integer`);
  }
  if (!isLowMask(segmentBoundaryMask)) {
    throw new RangeError(`segment boundary mask ${segmentBoundaryMask} is not of the form 2^k - 1`);
  }
  const window = segmentBoundaryMask + 1;
  const n = table.origNents;
  let count = 0;
  let start = 0;
  let length = 0;
  for (let i = 0; i < n; i++) {
    const dma = table.dmaAddress(i);
    const len = table.dmaLength(i);
    const joins =
      length > 0 &&
      start + length === dma &&
      maxSegmentSize - length >= len &&
      Math.floor(start / window) === Math.floor((dma + len - 1) / window);
    if (joins) {
      length += len;
      continue;
    }
    // Slot count - 1 lies before entry i, whose input is already read: compacting in place is safe.
    if (count > 0) table.setDma(count - 1, start, length);
    count++;
    start = dma;
    length = len;
  }
  if (count > 0) table.setDma(count - 1, start, length);
  for (let i = count; i < n; i++) table.setDma(i, 0, 0);
  table.setNents(count);
  return count;
};
