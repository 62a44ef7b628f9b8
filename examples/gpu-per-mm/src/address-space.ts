import { PAGE_SIZE } from '@sharedbuf/platform';
import type { GpuContext } from './gpu-context.js';
import type { ServedFault } from './gpu-faults.js';

/** One range of a process's GPU address space: a VMA of its mm, which the GPU reaches at the same address. */
export interface GpuVmaView {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  /** The VMA's name (anonymous memory named by the process, `gpu-bo:*`, `dmabuf:*`). */
  readonly name: string;
  readonly backing: 'anonymous' | 'pfns';
  /** The CPU's memory type for it ('cached', 'write-combine', …). */
  readonly memoryType: string;
  /** `rwx`-style permissions, which the SMMU enforces for the GPU too. */
  readonly prot: string;
  readonly pages: number;
  /** Pages present in the page table now. */
  readonly resident: number;
  /** Pages of it the GPU faulted in (I/O page faults served). */
  readonly gpuFaulted: number;
}

/** A process's GPU address space at one moment. */
export interface GpuAddressSpaceView {
  readonly pid: number;
  readonly process: string;
  readonly pasid: number;
  readonly vmas: readonly GpuVmaView[];
}

/**
 * The GPU address space of `ctx`'s process: with SVA it is the process's mm, VMA for VMA, so this
 * lists the mm's VMAs with how much of each is resident and how much the GPU brought in itself.
 */
export const gpuAddressSpace = (ctx: GpuContext, served: readonly ServedFault[]): GpuAddressSpaceView => {
  const mm = ctx.process.mm;
  const vmas = mm.vmas().map((vma): GpuVmaView => {
    let resident = 0;
    for (let va = vma.start; va < vma.end; va += PAGE_SIZE) if (mm.lookup(va) >= 0) resident += 1;
    const gpuFaulted = served.filter(
      (f) => f.pid === ctx.process.pid && f.va >= vma.start && f.va < vma.end,
    ).length;
    const { read, write, exec } = vma.prot;
    return {
      start: vma.start,
      end: vma.end,
      name: vma.name,
      backing: vma.backing.kind,
      memoryType: vma.attr,
      prot: `${read ? 'r' : '-'}${write ? 'w' : '-'}${exec ? 'x' : '-'}`,
      pages: (vma.end - vma.start) / PAGE_SIZE,
      resident,
      gpuFaulted,
    };
  });
  return { pid: ctx.process.pid, process: ctx.process.name, pasid: ctx.pasid, vmas };
};
