import { expectRefusal, type Refusal } from '@sharedbuf/example-kit';
import { unwrap } from '@sharedbuf/platform';
import { type SwitchStep, switchGpuTables } from './context-switch.js';
import { type DriverRun, sendToDevice } from './dma-api-driver.js';
import { type IommuLookup, lookupIommu } from './lookup.js';
import {
  givePrivateTables,
  offerToWrongIommu,
  type PrivateTable,
  type WrongIommu,
} from './private-tables.js';
import { buildMsmSoc, master } from './soc.js';

export { formatMsmMultiIommuReport } from './report.js';
export type { DriverRun, IommuLookup, PrivateTable, Refusal, SwitchStep, WrongIommu };

/** One System MMU instance as registered. */
export interface MsmInstance {
  readonly name: string;
  readonly model: string;
  readonly maxDevices: number;
  readonly contexts: number;
  readonly switchOnTheFly: boolean;
}

/** Everything the MSM multi-IOMMU run observed, as plain data. */
export interface MsmMultiIommuResult {
  readonly instances: readonly MsmInstance[];
  readonly masters: readonly { device: string; role: string; mmu: string | null }[];
  /** Device → IOMMU, from the device pointer alone, right after probe. */
  readonly lookups: readonly IommuLookup[];
  /** A second master offered to a System MMU that is already wired to one. */
  readonly wiredRefusal: { readonly device: string; readonly iommu: string; readonly refusal: Refusal };
  readonly privateTables: readonly PrivateTable[];
  readonly wrongIommu: WrongIommu;
  readonly gpuSwitch: readonly SwitchStep[];
  /** The same driver routine, run on every master through the DMA API. */
  readonly driverRuns: readonly DriverRun[];
  /** DMA debug findings over the whole run (none expected). */
  readonly debugFindings: readonly string[];
}

/**
 * Runs seed 001's MSM story on a model SoC: several System MMUs each hard-wired to one device,
 * domains allocated for a specific IOMMU, the GPU's page table switched on the fly, a domain refused
 * by the wrong IOMMU, the device as the key to its IOMMU, and one DMA API driver routine working on
 * every device whatever its IOMMU.
 * @throws when a step the story depends on does not behave as modelled (a regression).
 */
export const runMsmMultiIommu = (): MsmMultiIommuResult => {
  const soc = buildMsmSoc();
  const { iommu, dma, platform } = soc.system;
  const instances = iommu.listInstances().map(({ hw }) => ({
    name: hw.name,
    model: hw.model,
    maxDevices: hw.maxDevices,
    contexts: hw.contexts,
    switchOnTheFly: hw.switchOnTheFly,
  }));
  const lookups = soc.masters.map((m) => lookupIommu(iommu, dma, m.device));

  const adm = master(soc, 'adm').device;
  const wiredRefusal = {
    device: adm.name,
    iommu: 'gfx3d-mmu',
    refusal: expectRefusal(iommu.probeDevice(adm, { instance: 'gfx3d-mmu', streamId: 1 }), 'a second master'),
  };

  const { tables, domains } = givePrivateTables(soc);
  const gpu = master(soc, 'kgsl-3d0').device;
  const gpuTableA = domains.get(gpu.name)!;
  const wrongIommu = offerToWrongIommu(soc, gpuTableA, 'vfe');
  const gpuSwitch = switchGpuTables(soc, gpu, gpuTableA);
  for (const [name, domain] of domains) {
    const device = master(soc, name).device;
    if (iommu.domainOf(device) === domain) unwrap(iommu.detachDevice(domain, device));
    unwrap(iommu.domainFree(domain));
  }

  const driverRuns = soc.masters.map(({ device }) => {
    const phys = unwrap(platform.pages.allocPages(0)) * 4096;
    return unwrap(sendToDevice(dma, device, phys, `hello ${device.name}`));
  });
  return {
    instances,
    masters: soc.masters.map((m) => ({ device: m.device.name, role: m.role, mmu: m.mmu ?? null })),
    lookups,
    wiredRefusal,
    privateTables: tables,
    wrongIommu,
    gpuSwitch,
    driverRuns,
    debugFindings: dma.debug.findings().map((f) => `${f.kind}: ${f.message}`),
  };
};
