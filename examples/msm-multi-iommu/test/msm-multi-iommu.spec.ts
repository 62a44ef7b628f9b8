import { describe, expect, it } from 'vitest';
import { formatMsmMultiIommuReport, runMsmMultiIommu } from '../src/index.js';

const r = runMsmMultiIommu();

describe('MSM: several System MMUs, one per device (seed 001)', () => {
  it('registers one msm-iommu instance per multimedia core, each wired to one device with one context', () => {
    expect(r.instances.map((i) => i.name)).toEqual(['mdp-mmu', 'vfe-mmu', 'gfx3d-mmu']);
    for (const i of r.instances)
      expect(i).toMatchObject({ maxDevices: 1, contexts: 1, switchOnTheFly: true });
  });

  it('finds each device its IOMMU from the device pointer alone (dev->iommu, iommu_group_get)', () => {
    for (const l of r.lookups.filter((x) => x.device !== 'adm')) {
      const mmu = r.masters.find((m) => m.device === l.device)!.mmu;
      expect(l).toMatchObject({ iommu: mmu, groupInstance: mmu, dmaOps: 'iommu' });
    }
    expect(r.lookups.find((l) => l.device === 'adm')).toMatchObject({
      iommu: null,
      group: null,
      dmaOps: 'direct',
    });
  });

  it('refuses a second device behind a System MMU that is wired to one (EBUSY)', () => {
    expect(r.wiredRefusal.refusal.code).toBe('EBUSY');
    expect(r.wiredRefusal.refusal.message).toContain('kgsl-3d0');
  });

  it('gives each IOMMU its own domain: the same IOVA reaches a different page on each device', () => {
    expect(r.privateTables.map((t) => t.read)).toEqual([
      'mdp: page table A',
      'vfe: page table A',
      'kgsl-3d0: page table A',
    ]);
    expect(new Set(r.privateTables.map((t) => t.iova)).size).toBe(1);
    expect(new Set(r.privateTables.map((t) => t.phys)).size).toBe(3);
  });

  it('refuses a domain allocated for one IOMMU on a device behind another, naming both, changing nothing', () => {
    const x = r.wrongIommu;
    expect(x.refusal.code).toBe('EINVAL');
    expect(x.refusal.detail).toEqual({ domainInstance: 'gfx3d-mmu', groupInstance: 'vfe-mmu' });
    expect(x.domainAfter).toBe(x.domainBefore);
  });

  it('switches the GPU page table on the fly between domains; the GPU reads follow the active table', () => {
    expect(r.gpuSwitch.map((s) => s.read)).toEqual([
      'kgsl-3d0: page table B',
      'kgsl-3d0: page table A',
      'kgsl-3d0: page table B',
      'fault: EFAULT',
    ]);
    expect(r.gpuSwitch.every((s) => s.replaced !== null)).toBe(true);
    expect(r.gpuSwitch.at(-1)).toMatchObject({ fault: 'unmapped' });
    expect(r.gpuSwitch.at(-1)!.active).toMatch(/^dma domain/);
  });

  it('runs one DMA API driver routine on every device whatever its IOMMU', () => {
    expect(r.driverRuns.map((d) => d.read)).toEqual([
      'hello mdp',
      'hello vfe',
      'hello kgsl-3d0',
      'hello adm',
    ]);
    const viaIommu = r.driverRuns.filter((d) => d.iommu !== null);
    expect(viaIommu.every((d) => d.dmaOps === 'iommu' && d.dma < 2 ** 32)).toBe(true);
    expect(r.driverRuns.find((d) => d.device === 'adm')).toMatchObject({ dmaOps: 'direct', bounced: true });
    expect(r.debugFindings).toEqual([]);
  });

  it('is deterministic and its report names every section', () => {
    expect(runMsmMultiIommu()).toEqual(r);
    const text = formatMsmMultiIommuReport(r);
    for (const s of ['System MMU instances', 'device pointer is the key', 'switched on the fly', 'DMA API']) {
      expect(text).toContain(s);
    }
  });
});
