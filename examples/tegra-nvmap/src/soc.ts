import { createSystem, type SharedBufSystem } from '@sharedbuf/dma-buf';
import { armSmmu } from '@sharedbuf/iommu';
import { type Device, unwrap } from '@sharedbuf/platform';

/** The SMMU's name on the modelled SoC. */
export const SMMU = 'tegra-smmu';

/** The modelled Tegra SoC: the stack and its two bus masters. */
export interface TegraSoc {
  readonly system: SharedBufSystem;
  /** The display controller, left on its default DMA domain (the NvMap side). */
  readonly dc: Device;
  /** A host1x 2D engine, whose driver takes an unmanaged domain (the IOMMU API side). */
  readonly gr2d: Device;
}

/**
 * A Tegra-like SoC (seed 004): one SMMU with a 32-bit IOVA space per address space, as the Tegra 3
 * SMMU had, and two non-coherent 32-bit clients behind it — the display controller and a 2D engine,
 * each its own swgroup (stream ID) and so its own group.
 * @throws when the fixed layout cannot be built (a bug in the example).
 */
export const buildTegraSoc = (): TegraSoc => {
  const system = createSystem({ iommus: [armSmmu({ name: SMMU, iasBits: 32 })] });
  const add = (name: string, streamId: number) => {
    const dev = unwrap(system.platform.devices.add({ name, dmaMask: 32, coherentDmaMask: 32 }));
    unwrap(system.iommu.probeDevice(dev, { instance: SMMU, streamId }));
    return dev;
  };
  return { system, dc: add('tegradc.0', 1), gr2d: add('host1x-gr2d', 2) };
};
