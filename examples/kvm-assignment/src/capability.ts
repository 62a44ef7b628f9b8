import { DmaDirection } from '@sharedbuf/dma-mapping';
import { expectRefusal, type Refusal } from '@sharedbuf/example-kit';
import { unwrap } from '@sharedbuf/platform';
import type { KvmHost } from './guest.js';

/** The capability check on a device whose DMA ops cannot place IOVAs. */
export interface CapabilityRun {
  readonly device: string;
  readonly dmaOps: string;
  readonly supportsFixedMapping: boolean;
  /** What the fixed map does when called anyway. */
  readonly refusal: Refusal;
}

/**
 * A device without an IOMMU: its DMA ops are direct, so a bus address is the physical address and
 * cannot be chosen. `supportsFixedMapping` says no, and a fixed map called anyway is refused with
 * EOPNOTSUPP (and changes nothing) — the "way to check if this is supported" of seed 000.
 */
export const checkCapability = (host: KvmHost): CapabilityRun => {
  const { dma, platform } = host.system;
  const dev = host.legacy;
  const page = unwrap(platform.pages.allocPages(0, { maxAddress: 0xffff_ffff })) * 4096;
  const attempt = dma.dmaMapPageFixed(dev, page, 0x10_0000, 4096, DmaDirection.TO_DEVICE);
  return {
    device: dev.name,
    dmaOps: dma.opsKind(dev),
    supportsFixedMapping: dma.supportsFixedMapping(dev),
    refusal: expectRefusal(attempt, `a fixed mapping for ${dev.name}`),
  };
};
