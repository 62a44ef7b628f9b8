import type { CacheWork } from './cache-meter.js';
import type { GpuJob } from './gpu-job.js';

/** Where a job's simulated time went, in ns. */
export interface JobTime {
  /** Cache maintenance of the job's cached user ranges at submit. */
  readonly submitSync: number;
  /** Descriptor write, its flush and the doorbell. */
  readonly submit: number;
  /** Descriptor fetch and PASID switch. */
  readonly start: number;
  /** Transfers. */
  readonly dma: number;
  /** I/O page faults served. */
  readonly pageRequests: number;
  /** The refused fault that killed the job, if any. */
  readonly abort: number;
  /** Invalidation of the written cached ranges before the CPU reads them. */
  readonly completionSync: number;
}

/** What happened to one submitted job (plain data). */
export interface JobReport {
  readonly id: number;
  readonly label: string;
  readonly pid: number;
  readonly process: string;
  readonly pasid: number;
  readonly job: GpuJob;
  readonly status: 'done' | 'faulted';
  /** The value the GPU stored (transform sum or checksum), when done. */
  readonly result: number | undefined;
  /** errno and message of the fault that stopped it. */
  readonly error: { readonly code: string; readonly message: string } | undefined;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Pages the GPU faulted in during this job. */
  readonly pageRequests: number;
  /** Accesses the SMMU refused during this job. */
  readonly refusedFaults: number;
  /** Cache work at submit: the user ranges and the descriptor's flush. */
  readonly submitCache: CacheWork;
  readonly completionCache: CacheWork;
  readonly submittedAt: number;
  readonly startedAt: number;
  readonly completedAt: number;
  readonly time: JobTime;
}
