import { createSystem, type SharedBufSystem } from '@sharedbuf/dma-buf';
import { armSmmu } from '@sharedbuf/iommu';
import { type Device, unwrap } from '@sharedbuf/platform';

/** Guest RAM is backed in 2 MiB host blocks, as a VMM backs it with huge pages. */
export const CHUNK = 0x20_0000;
const CHUNK_ORDER = 9;
/** The smallest guest: the probes use the first three blocks and the balloon the last. */
export const MIN_GUEST_MIB = 8;

/** One piece of guest RAM: guest-physical `[gpa, gpa + size)` is host-physical `[hpa, …)`. */
export interface GuestChunk {
  readonly gpa: number;
  readonly hpa: number;
  readonly size: number;
}

/** The guest's memory map: RAM from guest-physical 0, backed by host blocks that need not be contiguous. */
export interface GuestRam {
  readonly size: number;
  readonly chunks: readonly GuestChunk[];
}

/** The host: the stack, two SMMUs, two assigned PCI functions and one device without an IOMMU. */
export interface KvmHost {
  readonly system: SharedBufSystem;
  /** The devices assigned to the guest, each behind a different SMMU. */
  readonly assigned: readonly Device[];
  /** A platform DMA engine with no IOMMU in front of it. */
  readonly legacy: Device;
  readonly guest: GuestRam;
}

/**
 * Builds the host of seed 000/001's KVM case: `smmu0` and `smmu1` (ARM SMMU model), a NIC virtual
 * function behind the first and an NVMe controller behind the second (coherent 64-bit PCI
 * devices, as assigned devices usually are), a legacy platform DMA engine behind neither, and
 * `guestRamMiB` of guest RAM backed by 2 MiB host blocks.
 * @throws for a guest size that is not a multiple of 2 MiB of at least 8 MiB, or host memory exhausted.
 */
export const buildKvmHost = (guestRamMiB: number): KvmHost => {
  const size = guestRamMiB * 0x10_0000;
  if (!Number.isInteger(guestRamMiB) || guestRamMiB < MIN_GUEST_MIB || size % CHUNK !== 0) {
    throw new RangeError(
      `guest RAM of ${guestRamMiB} MiB is not a multiple of 2 MiB of at least ${MIN_GUEST_MIB} MiB`,
    );
  }
  const system = createSystem({ iommus: [armSmmu({ name: 'smmu0' }), armSmmu({ name: 'smmu1' })] });
  const { platform, iommu } = system;
  const pci = (name: string) =>
    unwrap(platform.devices.add({ name, bus: 'pci', coherent: true, dmaMask: 64, coherentDmaMask: 64 }));
  const nic = pci('nic-vf0');
  const nvme = pci('nvme0');
  unwrap(iommu.probeDevice(nic, { instance: 'smmu0', streamId: 0x100 }));
  unwrap(iommu.probeDevice(nvme, { instance: 'smmu1', streamId: 0x200 }));
  const legacy = unwrap(platform.devices.add({ name: 'pl330-dma', dmaMask: 32 }));
  const chunks: GuestChunk[] = [];
  for (let gpa = 0; gpa < size; gpa += CHUNK) {
    chunks.push({ gpa, hpa: unwrap(platform.pages.allocPages(CHUNK_ORDER)) * 4096, size: CHUNK });
  }
  return { system, assigned: [nic, nvme], legacy, guest: { size, chunks } };
};

/** The host-physical address behind a guest-physical one, or undefined outside guest RAM. */
export const gpaToHpa = (guest: GuestRam, gpa: number): number | undefined => {
  const c = guest.chunks.find((x) => gpa >= x.gpa && gpa < x.gpa + x.size);
  return c === undefined ? undefined : c.hpa + (gpa - c.gpa);
};
