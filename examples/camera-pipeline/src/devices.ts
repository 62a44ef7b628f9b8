import { type ConstraintExtras, createSystem, KiB, type SharedBufSystem } from '@sharedbuf/dma-buf';
import { armSmmu } from '@sharedbuf/iommu';
import { type Device, type DeviceConfig, unwrap } from '@sharedbuf/platform';

/**
 * The encoder's interconnect window: 0xddc00000 bytes (3548 MiB) from bus address 0, not a power of
 * two. `of_dma_configure` sets `bus_dma_limit` to its last address, `dma_start + size − 1`.
 */
export const ENCODER_WINDOW = 0xddc0_0000;

/**
 * The four devices of the pipeline, as firmware would describe them (device tree `dma-ranges`,
 * `iommus`, `dma-coherent`, and the `dma_parms` their drivers set at probe). None is cache-coherent.
 */
export const PIPELINE_DEVICES = {
  /** A CSI camera receiver: 32-bit DMA, no IOMMU, the default 64 KiB segments. */
  camera: { name: 'camera', dmaMask: 32 },
  /** An image signal processor behind the SMMU, whose DMA engine takes segments of at most 64 KiB. */
  isp: { name: 'isp', dmaMask: 40, dmaParms: { maxSegmentSize: 64 * KiB } },
  /** A video encoder behind the SMMU, on a bus that carries only the 0xddc00000-byte window. */
  encoder: {
    name: 'encoder',
    dmaMask: 32,
    busDmaLimit: ENCODER_WINDOW - 1,
    dmaParms: { maxSegmentSize: 0xffff_f000 },
  },
  /** A display controller without IOMMU or scatter-gather: one range, in the bottom 1 GiB. */
  display: { name: 'display', dmaMask: 30, dmaParms: { maxSegmentSize: 0xffff_f000, maxSegmentCount: 1 } },
} satisfies Record<string, DeviceConfig>;

/**
 * What the display driver adds when it attaches: a scanout engine fetches one physically contiguous
 * range and must never be handed a swiotlb bounce copy (it reads the buffer for every refresh).
 */
export const DISPLAY_EXTRAS: ConstraintExtras = { needsContiguous: true, acceptsBounce: false };

/** Stream IDs of the devices behind the SMMU. */
const STREAM_IDS = { isp: 0x10, encoder: 0x11 } as const;

/** The machine and its four pipeline devices, probed as a boot would. */
export interface PipelineMachine {
  readonly sys: SharedBufSystem;
  readonly camera: Device;
  readonly isp: Device;
  readonly encoder: Device;
  readonly display: Device;
}

/**
 * Builds the default machine with one ARM SMMU (`smmu0`), adds the four devices and puts the ISP and
 * the encoder behind the SMMU, each in its own group with its own DMA domain.
 * @throws on a set-up error (a bug in this example).
 */
export const buildPipelineMachine = (system?: SharedBufSystem): PipelineMachine => {
  const sys = system ?? createSystem({ iommus: [armSmmu({ name: 'smmu0' })] });
  const add = (config: DeviceConfig): Device => unwrap(sys.platform.devices.add(config));
  const camera = add(PIPELINE_DEVICES.camera);
  const isp = add(PIPELINE_DEVICES.isp);
  const encoder = add(PIPELINE_DEVICES.encoder);
  const display = add(PIPELINE_DEVICES.display);
  unwrap(sys.iommu.probeDevice(isp, { instance: 'smmu0', streamId: STREAM_IDS.isp }));
  unwrap(sys.iommu.probeDevice(encoder, { instance: 'smmu0', streamId: STREAM_IDS.encoder }));
  return { sys, camera, isp, encoder, display };
};
