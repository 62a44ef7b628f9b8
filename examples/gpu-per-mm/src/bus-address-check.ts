import { type Device, PAGE_SIZE, type TranslationOut } from '@sharedbuf/platform';
import type { GpuContext } from './gpu-context.js';

/** One address looked up on both sides: the GPU's bus address and the CPU's user address. */
export interface BusAddressCheck {
  readonly pid: number;
  readonly process: string;
  readonly pasid: number;
  readonly what: string;
  /** The address the job used: user virtual address and GPU bus address at once. */
  readonly va: number;
  /** Where the SMMU sends the GPU's access to `va` under the process's PASID (-1: it faults). */
  readonly gpuPhys: number;
  /** Where the process's page table sends the CPU's access to `va` (-1: not present). */
  readonly cpuPhys: number;
}

/**
 * Asks the SMMU to translate bus address `va` for the GPU under `ctx`'s PASID — as an ATS
 * translation request would, without moving data — and the process's page table to translate the
 * same user address. Equal answers are seed 002's "bus_address == user_address". Look up only
 * resident pages: the SMMU serves a missing one by faulting it in.
 */
export const checkBusAddress = (gpu: Device, ctx: GpuContext, va: number, what: string): BusAddressCheck => {
  const out: TranslationOut = { pasid: ctx.pasid, phys: 0, error: undefined };
  const reached = gpu.translation.translate(gpu, va, 1, false, out);
  const pfn = ctx.process.mm.lookup(va);
  return {
    pid: ctx.process.pid,
    process: ctx.process.name,
    pasid: ctx.pasid,
    what,
    va,
    gpuPhys: reached > 0 ? out.phys : -1,
    cpuPhys: pfn >= 0 ? pfn * PAGE_SIZE + (va % PAGE_SIZE) : -1,
  };
};
