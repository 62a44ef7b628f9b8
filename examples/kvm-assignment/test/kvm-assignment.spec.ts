import { describe, expect, it } from 'vitest';
import { formatKvmAssignmentReport, runKvmAssignment } from '../src/index.js';

const r = runKvmAssignment();
const reached = (probes: readonly { gpa: number; reachedHostPage: boolean }[]) =>
  probes.filter((p) => p.reachedHostPage).map((p) => p.gpa);

describe('KVM device assignment: GPAs as IOVAs (seeds 000, 001)', () => {
  it('backs guest RAM from guest-physical 0 with 2 MiB host blocks', () => {
    expect(r.guestRam).toHaveLength(8);
    expect(r.guestRam[0]).toMatchObject({ gpa: 0, size: 0x20_0000 });
    expect(r.assigned.map((a) => a.iommu)).toEqual(['smmu0', 'smmu1']);
  });

  it('IOMMU API: one domain, allocated for no IOMMU, spans both SMMUs and maps guest RAM once', () => {
    expect(r.iommuApi.domain).toMatch(/^unmanaged domain \d+$/);
    expect(r.iommuApi.instances).toEqual(['smmu0', 'smmu1']);
    expect(r.iommuApi.mapCalls).toBe(8);
  });

  it('IOMMU API: every DMA at a GPA in guest RAM reaches its host page, GPA 0 included; outside RAM faults', () => {
    const p = r.iommuApi.probes;
    expect(reached(p)).toEqual([0, 0x20_0040, 0x20_1000, 0x40_1000]);
    expect(p.at(-1)).toMatchObject({ hpa: null, dma: 'fault: EFAULT (unmapped)', reachedHostPage: false });
  });

  it('one unmap on the shared domain invalidates the IOTLB of every SMMU walking it (iommu_iotlb_sync)', () => {
    const b = r.iommuApi.balloon;
    expect(b.unmapped).toBe(0x20_0000);
    expect(b.flushes).toEqual([
      { instance: 'smmu0', count: 1 },
      { instance: 'smmu1', count: 1 },
    ]);
    expect(b.before.map((a) => a.dma)).toEqual(['ok', 'ok']);
    expect(b.after.map((a) => a.dma)).toEqual(['fault: EFAULT', 'fault: EFAULT']);
  });

  it('DMA API: after the capability check, FIXED_MAPPING maps guest RAM per device, one DMA domain each', () => {
    const d = r.dmaApi;
    expect(d.devices.every((x) => x.supportsFixedMapping)).toBe(true);
    expect(new Set(d.devices.map((x) => x.domain)).size).toBe(2);
    expect(d.mapCalls).toBe(16);
    expect(reached(d.probes)).toEqual([0x20_0040, 0x20_1000, 0x40_1000]);
  });

  it('DMA API: IOVA 0 is refused because dma-iommu never allocates pfn 0 (iommu_dma_init_domain, drivers/iommu/dma-iommu.c)', () => {
    for (const x of r.dmaApi.devices) {
      expect(x.mapped).toBe(7);
      expect(x.refused.map((f) => [f.gpa, f.refusal.code])).toEqual([[0, 'EINVAL']]);
    }
    expect(r.dmaApi.probes[0]).toMatchObject({ gpa: 0, dma: 'fault: EFAULT (unmapped)' });
  });

  it('a device without an IOMMU fails the capability check and its fixed map is refused with EOPNOTSUPP', () => {
    expect(r.capability).toMatchObject({ dmaOps: 'direct', supportsFixedMapping: false });
    expect(r.capability.refusal.code).toBe('EOPNOTSUPP');
  });

  it('mapping the same guest RAM for a second device without SKIP_CPU_SYNC is an overlapping mapping (add_dma_entry, kernel/dma/debug.c)', () => {
    expect(r.debugFindings).toEqual([]);
    const noSkip = runKvmAssignment({ skipCpuSync: false });
    expect(noSkip.debugFindings).toHaveLength(7);
    expect(noSkip.debugFindings.every((f) => f.startsWith('nvme0: cacheline-overlap'))).toBe(true);
  });

  it('is deterministic and its report shows both ways', () => {
    expect(runKvmAssignment()).toEqual(r);
    const text = formatKvmAssignmentReport(r);
    expect(text).toContain('1. IOMMU API');
    expect(text).toContain('2. DMA API');
    expect(text).toContain('EOPNOTSUPP');
  });

  it('refuses a guest smaller than the probes need', () => {
    expect(() => runKvmAssignment({ guestRamMiB: 4 })).toThrow(RangeError);
  });
});
