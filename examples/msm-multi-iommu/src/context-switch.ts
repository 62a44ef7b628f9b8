import { cpuWriteClean, deviceReadText } from '@sharedbuf/example-kit';
import { IOMMU_READ, type IommuDomain, iommuMap } from '@sharedbuf/iommu';
import { type Device, type KResult, unwrap } from '@sharedbuf/platform';
import { PRIVATE_IOVA, READ_LENGTH } from './private-tables.js';
import type { MsmSoc } from './soc.js';

/** One step of the GPU's page-table switching. */
export interface SwitchStep {
  readonly action: string;
  /** The domain the GPU translates through after the step. */
  readonly active: string;
  /** The domain the step replaced in the one context (null when none was replaced). */
  readonly replaced: string | null;
  /** What the GPU read at {@link PRIVATE_IOVA} afterwards. */
  readonly read: string;
  /** The IOMMU fault the read raised (`unmapped`, …), or null. */
  readonly fault: string | null;
}

/**
 * Seed 001: "the domain for that IOMMU basically abstracts its page table, and it is a legitimate
 * thing to switch out page tables for the IOMMU on the fly." The GPU's System MMU has one context;
 * `iommu_attach_device` with a second domain swaps the table in place (the core's EBUSY rule for a
 * group already on a non-default domain does not apply to MSM hardware). Detaching returns the GPU
 * to its default DMA domain, where the address is not mapped and the read faults.
 */
export const switchGpuTables = (soc: MsmSoc, gpu: Device, tableA: IommuDomain): SwitchStep[] => {
  const { platform, iommu } = soc.system;
  const mmu = gpu.iommu!.instance;
  const tableB = unwrap(iommu.domainAlloc('unmanaged', { instance: mmu }));
  const phys = unwrap(platform.pages.allocPages(0)) * 4096;
  cpuWriteClean(platform, phys, `${gpu.name}: page table B`);
  unwrap(iommuMap(tableB, PRIVATE_IOVA, phys, 4096, IOMMU_READ));

  const names = new Map<number, string>();
  for (const d of [tableA, tableB, iommu.groupOf(gpu)!.defaultDomain]) names.set(d.id, d.describe());
  let replaced: string | null = null;
  const left = (id: number | null) => {
    replaced = id === null ? null : (names.get(id) ?? `domain ${id}`);
  };
  const stops = [
    iommu.bus.on('attach', (e) => left(e.replaced)),
    iommu.bus.on('detach', (e) => left(e.domain)),
  ];
  const step = (action: string, call: () => KResult<void>): SwitchStep => {
    replaced = null;
    unwrap(call());
    const active = iommu.domainOf(gpu)!.describe();
    const faultsBefore = iommu.faults.length;
    const read = deviceReadText(gpu, PRIVATE_IOVA, READ_LENGTH);
    const fault = iommu.faults[faultsBefore];
    return { action, active, replaced, read, fault: fault === undefined ? null : fault.reason };
  };
  const steps = [
    step('attach table B', () => iommu.attachDevice(tableB, gpu)),
    step('attach table A', () => iommu.attachDevice(tableA, gpu)),
    step('attach table B', () => iommu.attachDevice(tableB, gpu)),
    step('detach table B', () => iommu.detachDevice(tableB, gpu)),
  ];
  for (const stop of stops) stop();
  unwrap(iommu.domainFree(tableB));
  return steps;
};
