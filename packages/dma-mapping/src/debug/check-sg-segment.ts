import type { DebugState } from './debug-state.js';
import type { DmaDebugDevice } from './device.js';
import { DebugMessages as M } from './messages.js';
import type { DmaDebugSgEntry } from './scatterlist.js';

/** `SZ_64K`: what `dma_get_max_seg_size()` returns for a device without DMA parameters. */
const DEFAULT_MAX_SEGMENT = 65536;

/**
 * `check_sg_segment()` (`kernel/dma/debug.c`, CONFIG_DMA_API_DEBUG_SG): a mapped segment must be no
 * longer than the device's maximum segment size (the kernel compares the CPU-side `length`) and
 * must not cross its segment boundary (compared on the DMA side). A device with no boundary mask
 * (or a zero one) has none, as `dma_get_seg_boundary()` returns ULONG_MAX.
 */
export const checkSgSegment = (state: DebugState, dev: DmaDebugDevice, s: DmaDebugSgEntry): void => {
  const maxSegmentSize = dev.dmaParms?.maxSegmentSize ?? DEFAULT_MAX_SEGMENT;
  if (s.length > maxSegmentSize) {
    const msg = M.sgSegmentTooLong(s.length, maxSegmentSize);
    state.report('sg-segment-too-long', dev.name, msg, { length: s.length, maxSegmentSize });
  }
  const boundary = dev.dmaParms?.segmentBoundaryMask;
  if (!boundary) return;
  const start = s.dmaAddress;
  const end = start + s.dmaLength - 1;
  // (start ^ end) & ~boundary, without 32-bit operators: do both ends share one boundary window?
  if (Math.floor(start / (boundary + 1)) !== Math.floor(end / (boundary + 1))) {
    state.report('sg-segment-boundary', dev.name, M.sgSegmentBoundary(start, end, boundary), {
      start,
      end,
      boundary,
    });
  }
};
