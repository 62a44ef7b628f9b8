import type { DmaDebugFinding } from '@sharedbuf/dma-mapping';
import type { GpuAddressSpaceView } from './address-space.js';
import type { BusAddressCheck } from './bus-address-check.js';
import type { CacheWork } from './cache-meter.js';
import type { GpuCosts } from './costs.js';
import type { RefusedFault, ServedFault } from './gpu-faults.js';
import type { JobReport } from './job-report.js';

/** A device as the report describes it. */
export interface DeviceSummary {
  readonly name: string;
  readonly coherent: boolean;
  readonly dmaMaskBits: number;
  /** The IOMMU instance it sits behind, or null. */
  readonly iommu: string | null;
}

/** A submitted job with what the process found when it checked the result. */
export interface JobOutcome extends JobReport {
  /** The value the CPU computed for the same inputs (undefined for a job meant to fault). */
  readonly expected: number | undefined;
  /** The value the process read back through its own mapping after completion. */
  readonly readBack: number | undefined;
  /** For a transform: whether every output word the process read equals the CPU's. */
  readonly outputMatches: boolean | undefined;
}

/** A buffer object as placed in a process. */
export interface BoSummary {
  readonly pid: number;
  readonly process: string;
  readonly name: string;
  readonly va: number;
  readonly size: number;
  /** Whether the kernel holds a CPU mapping of it (never, with DMA_ATTR_NO_KERNEL_MAPPING). */
  readonly kernelMapping: boolean;
  /** Its address in the GPU's PASID-less (DMA API) space, which `dma_alloc_attrs` always creates. */
  readonly kernelIova: number;
}

/** A dma-buf imported into a process's GPU space. */
export interface ImportSummary {
  readonly pid: number;
  readonly process: string;
  readonly buffer: string;
  readonly exporter: string;
  readonly heap: string;
  readonly size: number;
  readonly fd: number;
  readonly va: number;
  readonly writable: boolean;
}

/** Everything the example found (plain data). */
export interface GpuPerMmResult {
  readonly arch: string;
  readonly iommu: string;
  readonly gpu: DeviceSummary;
  readonly camera: DeviceSummary;
  readonly costs: GpuCosts;
  readonly ring: {
    readonly dmaAddr: number;
    readonly slots: number;
    /** Cache maintenance while mapping it at probe (DMA_ATTR_SKIP_CPU_SYNC: none). */
    readonly mapWork: CacheWork;
  };
  readonly contexts: readonly { pid: number; process: string; pasid: number; domain: number }[];
  readonly bos: readonly BoSummary[];
  readonly imports: readonly ImportSummary[];
  /** Each process's GPU address space once every buffer is in place, before the revocation. */
  readonly spaces: readonly GpuAddressSpaceView[];
  readonly busChecks: readonly BusAddressCheck[];
  readonly jobs: readonly JobOutcome[];
  readonly faults: {
    readonly served: readonly ServedFault[];
    readonly refused: readonly RefusedFault[];
    /** The IOMMU core's own fault records, for cross-checking the driver's attribution. */
    readonly iommu: readonly { pasid: number; iova: number; write: boolean; reason: string }[];
  };
  /** The isolation attempt: a job of one process at an address only the other has mapped. */
  readonly isolation: {
    readonly jobId: number;
    readonly attacker: number;
    readonly owner: number;
    readonly va: number;
  };
  /** The revocation: a range the process unmapped, and the job that tried it afterwards. */
  readonly revocation: {
    readonly jobId: number;
    readonly pid: number;
    readonly start: number;
    readonly end: number;
  };
  /** DMA debug's findings over the whole run, teardown included. */
  readonly dmaDebugFindings: readonly DmaDebugFinding[];
  /** DMA-API mappings the GPU still held after the driver was removed. */
  readonly leakedMappings: number;
  /** Simulated time at the end, ns. */
  readonly endNs: number;
}
