import type { IommuFaultReason } from './iommu-fault.js';

/** Typed events of the IOMMU core; every payload is plain JSON data. */
export type IommuEvents = {
  'hw-register': { instance: string; model: string };
  probe: { device: string; instance: string; streamId: number; group: number };
  release: { device: string; group: number };
  'domain-alloc': { domain: number; type: string; instance: string | null };
  'domain-free': { domain: number };
  attach: { domain: number; group: number; devices: string[]; replaced: number | null };
  detach: { domain: number; group: number; devices: string[]; restored: number };
  map: { domain: number; iova: number; paddr: number; size: number; prot: number };
  unmap: { domain: number; iova: number; size: number; unmapped: number };
  flush: { instance: string; domain: number; start: number; end: number; all: boolean };
  fault: {
    device: string;
    domain: number;
    iova: number;
    write: boolean;
    reason: IommuFaultReason;
    pasid: number;
    handled: boolean;
  };
  bind: { device: string; pasid: number; pid: number; domain: number };
  unbind: { device: string; pasid: number; pid: number };
};
