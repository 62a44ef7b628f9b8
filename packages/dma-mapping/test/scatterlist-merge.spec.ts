import { fc, it as fcIt } from '@fast-check/vitest';
import { alignUp, PAGE_SIZE, pow2, unwrap } from '@sharedbuf/platform';
import { describe, expect, it } from 'vitest';
import {
  mergeDmaSegments,
  type SgTable,
  sgAllocTableFromRanges,
  sgDmaSegments,
} from '../src/scatterlist/index.js';

const NO_BOUNDARY = Number.MAX_SAFE_INTEGER;
const KiB = 1024;

interface Placed {
  readonly phys: number;
  readonly length: number;
  readonly dma: number;
}

/** A table whose entries carry the given per-entry DMA addresses, as a map_sg lays them out. */
const laidOut = (entries: readonly Placed[]): SgTable => {
  const t = unwrap(sgAllocTableFromRanges(undefined, entries));
  entries.forEach((e, i) => {
    t.setDma(i, e.dma, e.length);
  });
  return t;
};

/** Entries placed back to back in IOVA space from `dma`, each starting at its phys's page offset. */
const backToBack = (dma: number, lengths: readonly number[]): Placed[] => {
  let at = dma;
  return lengths.map((length, i) => {
    const e = { phys: (i + 1) * 0x10_0000, length, dma: at };
    at += length;
    return e;
  });
};

describe('mergeDmaSegments: the __finalise_sg rules (drivers/iommu/dma-iommu.c)', () => {
  it('concatenates entries laid out back to back in IOVA space into one DMA segment (drivers/iommu/dma-iommu.c __finalise_sg)', () => {
    const t = laidOut(backToBack(0x10_0000, [PAGE_SIZE, PAGE_SIZE, PAGE_SIZE, PAGE_SIZE]));
    expect(mergeDmaSegments(t, 64 * KiB, 0xffff_ffff)).toBe(1);
    expect(t.nents).toBe(1);
    expect(t.origNents).toBe(4);
    expect(sgDmaSegments(t)).toEqual([{ dmaAddress: 0x10_0000, length: 4 * PAGE_SIZE }]);
  });

  it('never makes a segment longer than max_seg_size (drivers/iommu/dma-iommu.c: max_len - cur_len >= s_length)', () => {
    const t = laidOut(backToBack(0x10_0000, [16 * KiB, 16 * KiB, 16 * KiB, 8 * KiB, 16 * KiB]));
    expect(mergeDmaSegments(t, 32 * KiB, NO_BOUNDARY)).toBe(3);
    expect(sgDmaSegments(t)).toEqual([
      { dmaAddress: 0x10_0000, length: 32 * KiB },
      { dmaAddress: 0x10_8000, length: 24 * KiB },
      { dmaAddress: 0x10_e000, length: 16 * KiB },
    ]);
  });

  it('starts a new segment at an entry that begins on a segment boundary (drivers/iommu/dma-iommu.c: dma_addr & seg_mask)', () => {
    const t = laidOut(backToBack(0xe000, [PAGE_SIZE, PAGE_SIZE, PAGE_SIZE, PAGE_SIZE]));
    expect(mergeDmaSegments(t, 64 * KiB, 0xffff)).toBe(2);
    expect(sgDmaSegments(t)).toEqual([
      { dmaAddress: 0xe000, length: 2 * PAGE_SIZE },
      { dmaAddress: 0x10000, length: 2 * PAGE_SIZE },
    ]);
  });

  it('does not concatenate across a hole: an entry short of its granule end, or one starting inside a granule (drivers/iommu/dma-iommu.c: s_iova_off, s_length + s_iova_off < s_iova_len)', () => {
    const t = laidOut([
      { phys: 0x1000, length: 0x800, dma: 0x4000 }, // ends at 0x4800: its granule is not filled
      { phys: 0x9000, length: 0x1000, dma: 0x5000 },
      { phys: 0xa200, length: 0x100, dma: 0x6200 }, // starts 0x200 into its granule
    ]);
    expect(mergeDmaSegments(t, 64 * KiB, NO_BOUNDARY)).toBe(3);
    expect(sgDmaSegments(t).map((s) => s.dmaAddress)).toEqual([0x4000, 0x5000, 0x6200]);
  });

  it('clears the device side of the entries past nents (drivers/iommu/dma-iommu.c: sg_dma_len(s) = 0)', () => {
    const t = laidOut(backToBack(0x2000, [PAGE_SIZE, PAGE_SIZE, PAGE_SIZE]));
    mergeDmaSegments(t, 64 * KiB, NO_BOUNDARY);
    expect([t.dmaLength(1), t.dmaLength(2)]).toEqual([0, 0]);
    // The CPU side is untouched.
    expect(t.entries().map((e) => e.phys)).toEqual([0x10_0000, 0x20_0000, 0x30_0000]);
  });

  it('keeps IOVAs above 4 GiB exact', () => {
    const base = pow2(40) - 2 * PAGE_SIZE;
    const t = laidOut(backToBack(base, [PAGE_SIZE, PAGE_SIZE, PAGE_SIZE]));
    expect(mergeDmaSegments(t, 64 * KiB, 0xffff_ffff)).toBe(2);
    expect(sgDmaSegments(t)).toEqual([
      { dmaAddress: base, length: 2 * PAGE_SIZE },
      { dmaAddress: pow2(40), length: PAGE_SIZE },
    ]);
  });

  it("never builds a segment across a boundary even from entries that themselves cross one (the model's check)", () => {
    const t = laidOut([
      { phys: 0, length: 0x10000, dma: 0x8000 }, // crosses 0x10000 itself
      { phys: 0x10_0000, length: 0x1000, dma: 0x18000 }, // not on a boundary: Linux would append it
    ]);
    expect(mergeDmaSegments(t, 1 << 20, 0xffff)).toBe(2);
  });

  it('throws on parameters no device can have', () => {
    const t = laidOut(backToBack(0, [PAGE_SIZE]));
    expect(() => mergeDmaSegments(t, 0, NO_BOUNDARY)).toThrow(RangeError);
    expect(() => mergeDmaSegments(t, PAGE_SIZE, 0x1000)).toThrow(RangeError);
  });
});

describe('dma-direct mapping', () => {
  it('gives every entry its own DMA segment, merging nothing (kernel/dma/direct.c dma_direct_map_sg)', () => {
    const t = unwrap(
      sgAllocTableFromRanges(undefined, [
        { phys: 0x1000, length: 0x1000 },
        { phys: 0x2000, length: 0x1000 },
      ]),
    );
    for (let i = 0; i < t.origNents; i++) t.setDma(i, t.phys(i), t.length(i));
    t.setNents(t.origNents);
    expect(sgDmaSegments(t)).toEqual([
      { dmaAddress: 0x1000, length: 0x1000 },
      { dmaAddress: 0x2000, length: 0x1000 },
    ]);
  });
});

// ---- A line-by-line transcription of iommu_dma_map_sg()'s layout and __finalise_sg(), as the oracle.

const GRANULE = PAGE_SIZE;
const IOVA_BASE = pow2(40);

interface KernelMapping {
  /** Where each entry's first byte lands: what the model's map_sg hands to mergeDmaSegments. */
  readonly entryDma: number[];
  readonly segments: { dmaAddress: number; length: number }[];
}

const kernelMapSg = (
  entries: readonly { phys: number; length: number }[],
  mask: number,
  maxLen: number,
): KernelMapping => {
  const sIovaOff: number[] = [];
  const sLength: number[] = [];
  const sIovaLen: number[] = [];
  const entryDma: number[] = [];
  let iovaLen = 0;
  entries.forEach((s, i) => {
    const off = s.phys % GRANULE;
    const aligned = alignUp(s.length + off, GRANULE);
    const padLen = (mask + 1 - (iovaLen % (mask + 1))) % (mask + 1);
    sIovaOff.push(off);
    sLength.push(s.length);
    sIovaLen.push(aligned);
    if (padLen !== 0 && padLen < aligned - 1) {
      sIovaLen[i - 1] = (sIovaLen[i - 1] as number) + padLen;
      iovaLen += padLen;
    }
    entryDma.push(IOVA_BASE + iovaLen + off);
    iovaLen += aligned;
  });
  const segments: { dmaAddress: number; length: number }[] = [];
  let dmaAddr = IOVA_BASE;
  let curLen = 0;
  entries.forEach((_, i) => {
    const off = sIovaOff[i] as number;
    const len = sLength[i] as number;
    const cur = segments[segments.length - 1];
    if (cur && curLen && !off && dmaAddr % (mask + 1) !== 0 && maxLen - curLen >= len) {
      curLen += len;
      cur.length = curLen;
    } else {
      curLen = len;
      segments.push({ dmaAddress: dmaAddr + off, length: curLen });
    }
    dmaAddr += sIovaLen[i] as number;
    if (len + off < (sIovaLen[i] as number)) curLen = 0;
  });
  return { entryDma, segments };
};

describe('mergeDmaSegments against the kernel transcription', () => {
  const maskBits = fc.integer({ min: 12, max: 20 });
  const entry = fc.record({
    pageOffset: fc.integer({ min: 0, max: GRANULE - 1 }),
    length: fc.integer({ min: 1, max: 5 * GRANULE }),
    frame: fc.integer({ min: 0, max: pow2(30) }),
  });

  fcIt.prop([
    maskBits,
    fc.integer({ min: 1, max: 64 * KiB }),
    fc.array(entry, { minLength: 1, maxLength: 40 }),
  ])(
    'computes the DMA segments __finalise_sg computes for an iommu_dma_map_sg layout',
    (bits, maxLen, raw) => {
      const mask = pow2(bits) - 1;
      // iommu_dma_map_sg assumes no single entry spans more than a boundary window.
      const entries = raw
        .map((e) => ({ phys: e.frame * GRANULE + e.pageOffset, length: e.length }))
        .filter((e) => alignUp(e.length + (e.phys % GRANULE), GRANULE) <= mask + 1);
      fc.pre(entries.length > 0);
      const kernel = kernelMapSg(entries, mask, maxLen);
      const t = laidOut(entries.map((e, i) => ({ ...e, dma: kernel.entryDma[i] as number })));
      const nents = mergeDmaSegments(t, maxLen, mask);
      expect(sgDmaSegments(t)).toEqual(kernel.segments);
      expect(nents).toBe(kernel.segments.length);
    },
  );
});
