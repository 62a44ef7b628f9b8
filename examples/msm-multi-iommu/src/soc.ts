import { createSystem, type SharedBufSystem } from '@sharedbuf/dma-buf';
import { msmIommu } from '@sharedbuf/iommu';
import { type Device, unwrap } from '@sharedbuf/platform';

/** One bus master of the SoC and the System MMU hard-wired in front of it (none for `adm`). */
export interface MsmMaster {
  readonly device: Device;
  /** What the device is, for the report. */
  readonly role: string;
  /** Its System MMU, or undefined for a master without one. */
  readonly mmu: string | undefined;
}

/** The modelled SoC: the whole stack plus its bus masters, in probe order. */
export interface MsmSoc {
  readonly system: SharedBufSystem;
  readonly masters: readonly MsmMaster[];
}

const LAYOUT = [
  { name: 'mdp', role: 'display processor', mmu: 'mdp-mmu' },
  { name: 'vfe', role: 'camera front end', mmu: 'vfe-mmu' },
  { name: 'kgsl-3d0', role: 'Adreno GPU', mmu: 'gfx3d-mmu' },
  { name: 'adm', role: 'data mover, no MMU', mmu: undefined },
] as const;

/**
 * Builds a 2010-era MSM SoC as in seed 001: each multimedia core has its own System MMU
 * (`drivers/iommu/msm_iommu.c`) wired to that core alone; the ADM data mover has none. The masters
 * are non-coherent 32-bit platform devices, as on those parts. One `msmIommu` instance per multimedia core, every core probed behind its own
 * instance (stream ID 0: an MSM context has one master), the ADM left on direct DMA.
 * @throws when the fixed layout cannot be built (a bug in the example).
 */
export const buildMsmSoc = (): MsmSoc => {
  const iommus = LAYOUT.flatMap((m) => (m.mmu === undefined ? [] : [msmIommu({ name: m.mmu })]));
  const system = createSystem({ iommus });
  const masters = LAYOUT.map((m): MsmMaster => {
    const device = unwrap(system.platform.devices.add({ name: m.name, dmaMask: 32, coherentDmaMask: 32 }));
    if (m.mmu !== undefined) unwrap(system.iommu.probeDevice(device, { instance: m.mmu, streamId: 0 }));
    return { device, role: m.role, mmu: m.mmu };
  });
  return { system, masters };
};

/** The master named `name`. @throws for a name not in the layout (a bug in the example). */
export const master = (soc: MsmSoc, name: string): MsmMaster => {
  const m = soc.masters.find((x) => x.device.name === name);
  if (m === undefined) throw new Error(`no bus master named ${name}`);
  return m;
};
