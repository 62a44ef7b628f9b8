import { describe, expect, it } from 'vitest';
import { formatTegraNvMapReport, runTegraNvMap } from '../src/index.js';

const r = runTegraNvMap();
const owners = (layout: readonly { owner: string }[]) => layout.map((e) => e.owner);

describe('Tegra NvMap through the DMA API extensions (seed 004, as proposed)', () => {
  const n = r.nvmap;

  it('places NvMap buffers at the IOVAs it chose, and the device reads them there', () => {
    const at = (owner: string) => n.layout.find((e) => e.owner === owner)!;
    expect(at('nvmap: firmware')).toMatchObject({ iova: 0x10_0000, deviceReads: 'tegra firmware' });
    expect(at('nvmap: splash framebuffer')).toMatchObject({ iova: 0xfe00_0000, deviceReads: 'splash frame' });
    expect(at('nvmap: iram vectors')).toMatchObject({ iova: 0xffff_0000, deviceReads: 'iram vectors' });
    expect(at('nvmap: scratch')).toMatchObject({ via: 'iova_alloc', deviceReads: 'scratch piece 0' });
  });

  it('ordinary DMA API allocations from the same domain never collide with the fixed ranges', () => {
    expect(n.overlaps).toEqual([]);
    expect(n.unknownToAllocator).toEqual([]);
    const dmaApi = n.layout.filter((e) => !e.owner.startsWith('nvmap'));
    expect(owners(dmaApi).sort()).toEqual([
      'command ring',
      'cursor',
      'gamma lut',
      'overlay plane',
      'scanout buffer',
    ]);
    for (const e of dmaApi) expect(e.iova + e.size).toBeLessThanOrEqual(0xffe0_0000);
    expect(dmaApi.find((e) => e.owner === 'cursor')!.deviceReads).toBe('cursor');
  });

  it('a DMA domain never hands out IOVA 0: iova_alloc_at(0) is EINVAL (iommu_dma_init_domain, drivers/iommu/dma-iommu.c)', () => {
    expect(n.allocatorFirstIova).toBe(0x1000);
    expect(n.refused[0]).toMatchObject({ iova: 0, refusal: { code: 'EINVAL' } });
  });

  it('iova_alloc_at over a taken range is EEXIST, whether NvMap or the DMA API took it', () => {
    expect(n.refused.slice(1).map((x) => [x.what, x.refusal.code])).toEqual([
      ['overlay over the framebuffer', 'EEXIST'],
      ['a range over the cursor mapping', 'EEXIST'],
    ]);
  });

  it('DMA debug tracks map_page_at pieces like any mapping: the correct run has no findings', () => {
    expect(r.debugFindings).toEqual([]);
  });
});

describe("Tegra through the IOMMU API with a carved range (seed 004, Roedel's answer)", () => {
  const i = r.iommuApi;

  it('maps IOVA 0 in an unmanaged domain, where no allocator keeps it back', () => {
    expect(i.layout[0]).toMatchObject({ iova: 0, owner: 'boot splash', deviceReads: 'boot splash' });
  });

  it("allocates anonymous buffers from the driver's own range at the top of the aperture, clear of fixed ones", () => {
    expect(i.carve).toEqual({ start: 0xfc00_0000, end: 0xffff_ffff });
    const anonymous = i.layout.filter((e) => e.via.startsWith('alloc_iova'));
    expect(anonymous).toHaveLength(3);
    for (const e of anonymous) {
      expect(e.iova).toBeGreaterThanOrEqual(i.carve.start);
      expect(e.deviceReads).toBe(e.owner);
    }
    expect(i.overlaps).toEqual([]);
  });
});

describe('the run', () => {
  it('is deterministic and its report shows both layouts', () => {
    expect(runTegraNvMap()).toEqual(r);
    const text = formatTegraNvMapReport(r);
    expect(text).toContain('1. DMA API extensions');
    expect(text).toContain('2. IOMMU API with a carved range');
    expect(text).toContain('never hands out IOVA 0');
  });
});
