import { type CapabilityRun, checkCapability } from './capability.js';
import { assignWithDmaApi, type DmaApiRun, type FixedMappingDevice } from './dma-api.js';
import { buildKvmHost, CHUNK, type GuestChunk, type KvmHost } from './guest.js';
import { assignWithIommuApi, type BalloonRun, type IommuApiRun } from './iommu-api.js';
import type { ProbeResult, ProbeSpec } from './probes.js';

export { formatKvmAssignmentReport } from './report.js';
export type {
  BalloonRun,
  CapabilityRun,
  DmaApiRun,
  FixedMappingDevice,
  GuestChunk,
  IommuApiRun,
  ProbeResult,
};

/** Options of {@link runKvmAssignment}. */
export interface KvmAssignmentOptions {
  /** Guest RAM in MiB, a multiple of 2 of at least 8 (default 16). */
  readonly guestRamMiB?: number;
  /** Whether the DMA API part passes `DMA_ATTR_SKIP_CPU_SYNC` with its fixed maps (default true). */
  readonly skipCpuSync?: boolean;
}

/** Everything the run observed, as plain data. */
export interface KvmAssignmentResult {
  readonly guestRam: readonly GuestChunk[];
  readonly assigned: readonly {
    readonly device: string;
    readonly iommu: string;
    readonly streamId: number;
  }[];
  readonly iommuApi: IommuApiRun;
  readonly dmaApi: DmaApiRun;
  readonly capability: CapabilityRun;
  /** DMA debug findings over the whole run. */
  readonly debugFindings: readonly string[];
}

/**
 * The guest's drivers program guest-physical addresses: two writes and a read in guest RAM (the
 * first at GPA 0), and a read just past the end of guest RAM that must not reach the host.
 */
const guestProbes = (host: KvmHost, tag: string): ProbeSpec[] => {
  const [nic, nvme] = host.assigned as [KvmHost['assigned'][number], KvmHost['assigned'][number]];
  return [
    { device: nic, gpa: 0, access: 'write', text: `rx ring at GPA 0 (${tag})` },
    { device: nic, gpa: CHUNK + 0x40, access: 'write', text: `rx packet (${tag})` },
    { device: nvme, gpa: CHUNK + 0x1000, access: 'write', text: `sector 9 (${tag})` },
    { device: nvme, gpa: 2 * CHUNK + 0x1000, access: 'read', text: `sector 7 (${tag})` },
    { device: nvme, gpa: host.guest.size + 0x1000, access: 'read', text: 'host memory' },
  ];
};

/**
 * Runs the KVM device-assignment story of seeds 000 and 001: a guest whose RAM starts at
 * guest-physical 0, two devices assigned to it behind two different SMMUs, guest-physical
 * addresses used as IOVAs — once through the IOMMU API with one domain spanning both SMMUs, once
 * through the DMA API with the proposed fixed-mapping attribute — and the capability check on a
 * device whose ops cannot honour it.
 * @throws RangeError for a bad guest size; Error when a step the story depends on regresses.
 */
export const runKvmAssignment = (options: KvmAssignmentOptions = {}): KvmAssignmentResult => {
  const host = buildKvmHost(options.guestRamMiB ?? 16);
  const iommuApi = assignWithIommuApi(host, guestProbes(host, 'IOMMU API'));
  const dmaApi = assignWithDmaApi(host, guestProbes(host, 'DMA API'), options.skipCpuSync ?? true);
  const capability = checkCapability(host);
  return {
    guestRam: host.guest.chunks,
    assigned: host.assigned.map((d) => ({
      device: d.name,
      iommu: d.iommu!.instance,
      streamId: d.iommu!.streamId,
    })),
    iommuApi,
    dmaApi,
    capability,
    debugFindings: host.system.dma.debug.findings().map((f) => `${f.device}: ${f.kind}: ${f.message}`),
  };
};
