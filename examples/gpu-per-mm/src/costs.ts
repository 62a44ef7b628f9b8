/**
 * What each step of the GPU model costs on the simulated clock, in nanoseconds. The model measures
 * nothing: these are stated assumptions, of the order of a mobile GPU behind an SMMU, chosen so the
 * report can show where a job's time goes (cache maintenance, I/O page faults, transfers).
 */
export interface GpuCosts {
  /** The submit ioctl: descriptor write, its flush and the doorbell. */
  readonly submitNs: number;
  /** Cache maintenance by address (clean or invalidate to the point of coherency), per KiB. */
  readonly cacheMaintenanceNsPerKiB: number;
  /** The GPU fetching a descriptor and switching to the job's PASID. */
  readonly jobStartNs: number;
  /** GPU transfers through the SMMU, per KiB moved. */
  readonly dmaNsPerKiB: number;
  /** One I/O page fault served: page request, `handle_mm_fault`, page response, retry. */
  readonly pageRequestNs: number;
  /** A fault the SMMU cannot serve: reported, the job killed, the GPU context reset. */
  readonly faultAbortNs: number;
}

/** The default assumptions (~12.5 GB/s transfers, 4 µs per served I/O page fault). */
export const DEFAULT_GPU_COSTS: GpuCosts = {
  submitNs: 1_500,
  cacheMaintenanceNsPerKiB: 40,
  jobStartNs: 2_000,
  dmaNsPerKiB: 80,
  pageRequestNs: 4_000,
  faultAbortNs: 10_000,
};

/** Nanoseconds for `bytes` at `nsPerKiB`, rounded up to whole nanoseconds. */
export const perKiB = (bytes: number, nsPerKiB: number): number => Math.ceil((bytes * nsPerKiB) / 1024);
