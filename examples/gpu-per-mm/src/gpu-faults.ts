import type { IommuFault, IommuFaultReason } from '@sharedbuf/iommu';
import type { Platform } from '@sharedbuf/platform';

/**
 * A GPU access to a page that was not present yet, served through the process's own fault path
 * (an I/O page fault: `iommu_sva_handle_iopf` → `handle_mm_fault`); the access then went on.
 */
export interface ServedFault {
  readonly jobId: number;
  readonly pid: number;
  readonly process: string;
  readonly pasid: number;
  /** The page's user (= bus) address. */
  readonly va: number;
  readonly write: boolean;
  /** Anonymous memory gets a zeroed page; a driver or dma-buf mapping gets its own frame inserted. */
  readonly backing: 'anonymous' | 'pfns';
}

/** A GPU access the SMMU refused, attributed through its PASID to the process whose job made it. */
export interface RefusedFault {
  readonly jobId: number;
  readonly pid: number;
  readonly process: string;
  readonly pasid: number;
  readonly va: number;
  readonly write: boolean;
  readonly reason: IommuFaultReason;
}

/** Who a PASID belongs to, as the driver knows it. */
export interface PasidOwner {
  readonly pid: number;
  readonly name: string;
}

/** The job the GPU is running, if any. */
interface Running {
  readonly jobId: number;
  readonly pasid: number;
  readonly owner: PasidOwner;
}

/**
 * The driver's log of GPU faults, served and refused. Served faults are the mm's demand faults that
 * happen while a job runs (the GPU is then the only agent touching user memory); refused ones come
 * from the fault handler the driver installs on each process's SVA domain, which names the process
 * by the access's PASID — never by whichever process happens to be current.
 */
export class GpuFaultLog {
  readonly served: ServedFault[] = [];
  readonly refused: RefusedFault[] = [];
  private running: Running | undefined;

  constructor(
    platform: Platform,
    private readonly ownerOf: (pasid: number) => PasidOwner | undefined,
  ) {
    platform.buses.mm.on('fault', (e) => {
      const r = this.running;
      if (r === undefined) return;
      if (e.pid !== r.owner.pid) {
        throw new Error(`GPU job ${r.jobId} (PASID ${r.pasid}) faulted a page of pid ${e.pid}`);
      }
      const vma = platform.processes.get(e.pid)?.mm.findVma(e.va);
      this.served.push({
        jobId: r.jobId,
        pid: e.pid,
        process: r.owner.name,
        pasid: r.pasid,
        va: e.va,
        write: e.write,
        backing: vma?.backing.kind ?? 'anonymous',
      });
    });
  }

  /** Runs `body` as job `jobId` of the process owning `pasid`, logging the faults it causes. */
  during<T>(jobId: number, pasid: number, body: () => T): T {
    const owner = this.ownerOf(pasid);
    if (owner === undefined) throw new Error(`no process owns PASID ${pasid}`);
    this.running = { jobId, pasid, owner };
    try {
      return body();
    } finally {
      this.running = undefined;
    }
  }

  /** The SVA domain's fault handler (`iommu_fault_handler_t`): records and lets the fault stand. */
  readonly handler = (fault: IommuFault): 'abort' => {
    const owner = this.ownerOf(fault.pasid);
    this.refused.push({
      jobId: this.running?.jobId ?? -1,
      pid: owner?.pid ?? -1,
      process: owner?.name ?? '?',
      pasid: fault.pasid,
      va: fault.iova,
      write: fault.write,
      reason: fault.reason,
    });
    return 'abort';
  };
}
