import {
  type Device,
  type DmaTranslation,
  hex,
  kernelError,
  PAGE_SIZE,
  type TranslationOut,
} from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { IOMMU_READ, IOMMU_WRITE } from '../io-pgtable/prot.js';
import type { IoTranslation } from '../io-pgtable/types.js';
import type { IommuDomain } from './iommu-domain.js';
import type { IommuFaultReason } from './iommu-fault.js';
import type { IommuGroup } from './iommu-group.js';

/**
 * How translation reports a fault to the core (`report_iommu_fault`, drivers/iommu/iommu.c): the
 * core records it and returns the domain handler's verdict; `IommuCore` implements it.
 */
export interface FaultReporter {
  reportFault(
    domain: IommuDomain,
    device: Device,
    iova: number,
    write: boolean,
    reason: IommuFaultReason,
    pasid: number,
  ): 'retry' | 'abort';
}

/** A handled fault is retried at most this often before the access is refused. */
const MAX_RETRIES = 4;

/**
 * The hardware path of a device behind an IOMMU: each DMA address goes through the group's current
 * domain (or, for a PASID-tagged access, the domain attached at that PASID). Paging and SVA domains
 * look the IOTLB up first and walk the tables on a miss, so a stale IOTLB entry is used exactly as
 * hardware would use it. A fault goes to the domain's handler; an unhandled one blocks the access.
 * Allocates nothing on the success path.
 */
export class IommuTranslation implements DmaTranslation {
  private readonly t: IoTranslation = { phys: 0, pgsize: 0, prot: 0 };

  constructor(
    private readonly group: IommuGroup,
    private readonly faults: FaultReporter,
  ) {}

  /** See `DmaTranslation.translate`. */
  translate(device: Device, busAddr: number, length: number, write: boolean, out: TranslationOut): number {
    const domain = out.pasid >= 0 ? this.group.pasidDomains.get(out.pasid) : this.group.domain;
    if (domain === undefined) return this.refuse(this.group.domain, device, busAddr, write, 'pasid', out);
    for (let attempt = 0; attempt <= MAX_RETRIES; attempt++) {
      const reason = this.lookup(domain, busAddr, write);
      if (reason === undefined) {
        out.phys = this.t.phys;
        const leafLeft = this.t.pgsize - (busAddr % this.t.pgsize);
        return Math.min(length, leafLeft);
      }
      if (this.faults.reportFault(domain, device, busAddr, write, reason, out.pasid) !== 'retry') {
        return this.refuse(domain, device, busAddr, write, reason, out, true);
      }
    }
    return this.refuse(domain, device, busAddr, write, 'unmapped', out, true);
  }

  /** Fills `this.t` for `iova`, or says why it cannot. */
  private lookup(domain: IommuDomain, iova: number, write: boolean): IommuFaultReason | undefined {
    switch (domain.type) {
      case 'identity':
        this.t.phys = iova;
        this.t.pgsize = Number.MAX_SAFE_INTEGER;
        this.t.prot = IOMMU_READ | IOMMU_WRITE;
        return undefined;
      case 'blocked':
        return 'blocked';
      case 'sva':
        return this.lookupSva(domain, iova, write);
      default:
        return this.lookupPaging(domain, iova, write);
    }
  }

  private lookupPaging(domain: IommuDomain, iova: number, write: boolean): IommuFaultReason | undefined {
    if (iova < domain.geometry.apertureStart || iova > domain.geometry.apertureEnd) return 'aperture';
    const iotlb = this.group.instance.iotlb;
    if (!iotlb.translate(domain.id, iova, domain.pgtable!, this.t)) return 'unmapped';
    return permits(this.t.prot, write) ? undefined : 'permission';
  }

  /**
   * SVA: the bus address is a user virtual address of the bound process; the IOTLB caches the
   * process page table's answers; a missing page is an I/O page fault resolved through the mm's own
   * fault path (`iommu_sva_handle_iopf` → `handle_mm_fault`).
   */
  private lookupSva(domain: IommuDomain, va: number, write: boolean): IommuFaultReason | undefined {
    const mm = domain.mm!;
    if (domain.mmGone) return 'blocked';
    const iotlb = this.group.instance.iotlb;
    if (iotlb.lookup(domain.id, va, this.t)) return permits(this.t.prot, write) ? undefined : 'permission';
    const vma = mm.findVma(va);
    if (vma === undefined) return 'unmapped';
    const prot = (vma.prot.read ? IOMMU_READ : 0) | (vma.prot.write ? IOMMU_WRITE : 0);
    if (!permits(prot, write)) return 'permission';
    let pfn = mm.lookup(va);
    if (pfn < 0) {
      const served = mm.handleFault(va, write);
      if (E.isLeft(served)) return 'unmapped';
      pfn = served.right;
    }
    const page = va - (va % PAGE_SIZE);
    this.t.phys = pfn * PAGE_SIZE;
    this.t.pgsize = PAGE_SIZE;
    this.t.prot = prot;
    iotlb.fill(domain.id, page, this.t);
    this.t.phys += va - page;
    return undefined;
  }

  private refuse(
    domain: IommuDomain,
    device: Device,
    iova: number,
    write: boolean,
    reason: IommuFaultReason,
    out: TranslationOut,
    reported = false,
  ): number {
    if (!reported) this.faults.reportFault(domain, device, iova, write, reason, out.pasid);
    out.error = kernelError(
      'EFAULT',
      `${device.name}: IOMMU ${reason} fault at ${hex(iova)} (${write ? 'write' : 'read'}) in ${domain.describe()}`,
      { device: device.name, domain: domain.id, iova, write, reason, pasid: out.pasid },
    );
    return 0;
  }
}

const permits = (prot: number, write: boolean): boolean => (prot & (write ? IOMMU_WRITE : IOMMU_READ)) !== 0;
