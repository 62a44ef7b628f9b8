import { cpuWriteClean, deviceReadText, expectRefusal, type Refusal } from '@sharedbuf/example-kit';
import { IOMMU_READ, type IommuDomain, iommuMap } from '@sharedbuf/iommu';
import { unwrap } from '@sharedbuf/platform';
import { type MsmSoc, master } from './soc.js';

/** The IOVA every private table maps, so that the same address reaches a different page per IOMMU. */
export const PRIVATE_IOVA = 0x0010_0000;
/** Bytes a device reads back at {@link PRIVATE_IOVA}. */
export const READ_LENGTH = 32;

/** One IOMMU's own domain, as its device sees it. */
export interface PrivateTable {
  readonly device: string;
  readonly iommu: string;
  readonly domain: string;
  readonly iova: number;
  readonly phys: number;
  /** What the device read at `iova` once attached. */
  readonly read: string;
}

/** What happened when a domain was offered to a device behind another IOMMU. */
export interface WrongIommu {
  readonly domain: string;
  readonly device: string;
  readonly refusal: Refusal;
  /** The device's domain before and after the refused call: a failed call changes nothing. */
  readonly domainBefore: string;
  readonly domainAfter: string;
}

/**
 * Seed 001, Stepan Moskovchenko: "I would like to allocate a domain and specify which IOMMU it is to
 * be used for" — `iommu_domain_alloc` with an IOMMU parameter. Each System MMU gets an unmanaged
 * domain bound to it, with one page at {@link PRIVATE_IOVA} naming its owner; the device is attached
 * and reads its own page there.
 */
export const givePrivateTables = (
  soc: MsmSoc,
): { tables: PrivateTable[]; domains: Map<string, IommuDomain> } => {
  const { platform, iommu } = soc.system;
  const domains = new Map<string, IommuDomain>();
  const tables = soc.masters.flatMap(({ device, mmu }): PrivateTable[] => {
    if (mmu === undefined) return [];
    const domain = unwrap(iommu.domainAlloc('unmanaged', { instance: mmu }));
    const phys = unwrap(platform.pages.allocPages(0)) * 4096;
    cpuWriteClean(platform, phys, `${device.name}: page table A`);
    unwrap(iommuMap(domain, PRIVATE_IOVA, phys, 4096, IOMMU_READ));
    unwrap(iommu.attachDevice(domain, device));
    domains.set(device.name, domain);
    const read = deviceReadText(device, PRIVATE_IOVA, READ_LENGTH);
    return [{ device: device.name, iommu: mmu, domain: domain.describe(), iova: PRIVATE_IOVA, phys, read }];
  });
  return { tables, domains };
};

/**
 * A domain allocated for one IOMMU offered to a device behind another: the core refuses it (EINVAL,
 * naming both instances) and the device keeps the domain it had.
 */
export const offerToWrongIommu = (soc: MsmSoc, domain: IommuDomain, deviceName: string): WrongIommu => {
  const { iommu } = soc.system;
  const { device } = master(soc, deviceName);
  const domainBefore = iommu.domainOf(device)?.describe() ?? 'none';
  const refusal = expectRefusal(iommu.attachDevice(domain, device), `attaching ${domain.describe()}`);
  const domainAfter = iommu.domainOf(device)?.describe() ?? 'none';
  return { domain: domain.describe(), device: deviceName, refusal, domainBefore, domainAfter };
};
