import { EventBus, type KResult, PAGE_SIZE, pow2, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { DmaDebug, type DmaDebugEvents } from '../src/debug/index.js';
import {
  SCATTERLIST_MAX_SEGMENT,
  SgTable,
  sgAllocTableFromPages,
  sgAllocTableFromRanges,
} from '../src/scatterlist/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The CPU side as [phys, length] pairs, for compact expectations. */
const cpu = (t: SgTable): [number, number][] => t.entries().map((e) => [e.phys, e.length]);
const range = (first: number, count: number): number[] => Array.from({ length: count }, (_, i) => first + i);
const errno = <T>(r: KResult<T>): string => (E.isLeft(r) ? r.left.code : 'ok');

describe('sgAllocTableFromPages: the Linux rules (lib/scatterlist.c)', () => {
  it('squashes physically contiguous pages into one entry (lib/scatterlist.c sg_alloc_append_table_from_pages)', () => {
    const t = unwrap(
      sgAllocTableFromPages(undefined, [10, 11, 12, 20, 21], 0, 5 * PAGE_SIZE, SCATTERLIST_MAX_SEGMENT),
    );
    expect(cpu(t)).toEqual([
      [10 * PAGE_SIZE, 3 * PAGE_SIZE],
      [20 * PAGE_SIZE, 2 * PAGE_SIZE],
    ]);
    expect(t.origNents).toBe(2);
    expect(t.totalLength).toBe(5 * PAGE_SIZE);
  });

  it('starts a new entry at any page that is not the next frame: repeats and descending runs (lib/scatterlist.c pages_are_mergeable)', () => {
    const t = unwrap(
      sgAllocTableFromPages(undefined, [7, 7, 6, 5], 0, 4 * PAGE_SIZE, SCATTERLIST_MAX_SEGMENT),
    );
    expect(cpu(t).map(([p]) => p / PAGE_SIZE)).toEqual([7, 7, 6, 5]);
  });

  it('rounds max_segment down to a page multiple and refuses less than a page with EINVAL (lib/scatterlist.c WARN_ON(max_segment < PAGE_SIZE))', () => {
    const pages = range(100, 4);
    expect(errno(sgAllocTableFromPages(undefined, pages, 0, 4 * PAGE_SIZE, PAGE_SIZE - 1))).toBe('EINVAL');
    expect(errno(sgAllocTableFromPages(undefined, pages, 0, 4 * PAGE_SIZE, 0))).toBe('EINVAL');
    // 2.5 pages behaves as 2 pages.
    const t = unwrap(sgAllocTableFromPages(undefined, pages, 0, 4 * PAGE_SIZE, 2.5 * PAGE_SIZE));
    expect(cpu(t)).toEqual([
      [100 * PAGE_SIZE, 2 * PAGE_SIZE],
      [102 * PAGE_SIZE, 2 * PAGE_SIZE],
    ]);
  });

  it('counts whole pages per entry, so the first entry is offset bytes shorter (lib/scatterlist.c seg_len >= max_segment)', () => {
    const t = unwrap(
      sgAllocTableFromPages(undefined, range(100, 4), 0x100, 4 * PAGE_SIZE - 0x100, 2 * PAGE_SIZE),
    );
    expect(cpu(t)).toEqual([
      [100 * PAGE_SIZE + 0x100, 2 * PAGE_SIZE - 0x100],
      [102 * PAGE_SIZE, 2 * PAGE_SIZE],
    ]);
  });

  it('applies the offset to the first entry only and trims the last entry to size (lib/scatterlist.c chunk_size / min(size, chunk_size))', () => {
    const t = unwrap(
      sgAllocTableFromPages(undefined, [5, 9, 13], 0x800, 2 * PAGE_SIZE, SCATTERLIST_MAX_SEGMENT),
    );
    expect(cpu(t)).toEqual([
      [5 * PAGE_SIZE + 0x800, PAGE_SIZE - 0x800],
      [9 * PAGE_SIZE, PAGE_SIZE],
      [13 * PAGE_SIZE, 0x800],
    ]);
    expect(t.totalLength).toBe(2 * PAGE_SIZE);
  });

  it('leaves nents equal to orig_nents and the DMA side zeroed, as after sg_alloc_table (lib/scatterlist.c __sg_alloc_table)', () => {
    const t = unwrap(sgAllocTableFromPages(undefined, [1, 3], 0, 2 * PAGE_SIZE, SCATTERLIST_MAX_SEGMENT));
    expect(t.nents).toBe(t.origNents);
    expect(t.entries().every((e) => e.dmaAddress === 0 && e.dmaLength === 0)).toBe(true);
  });

  it('keeps addresses above 4 GiB exact (no 32-bit arithmetic)', () => {
    const pfn = pow2(28) + 3; // 1 TiB + 12 KiB
    const t = unwrap(
      sgAllocTableFromPages(undefined, range(pfn, 3), 0x10, 3 * PAGE_SIZE - 0x10, SCATTERLIST_MAX_SEGMENT),
    );
    expect(cpu(t)).toEqual([[pfn * PAGE_SIZE + 0x10, 3 * PAGE_SIZE - 0x10]]);
  });
});

describe("sgAllocTableFromPages: the model's segment boundary", () => {
  it('never lets an entry cross a (mask + 1)-aligned boundary', () => {
    // 64 KiB windows are 16 pages: frames 14..17 straddle the boundary at frame 16.
    const t = unwrap(
      sgAllocTableFromPages(undefined, range(14, 4), 0, 4 * PAGE_SIZE, SCATTERLIST_MAX_SEGMENT, 0xffff),
    );
    expect(cpu(t)).toEqual([
      [14 * PAGE_SIZE, 2 * PAGE_SIZE],
      [16 * PAGE_SIZE, 2 * PAGE_SIZE],
    ]);
  });

  it('refuses a boundary mask below PAGE_SIZE - 1 with EINVAL (block/blk-settings.c blk_validate_limits)', () => {
    expect(errno(sgAllocTableFromPages(undefined, [1], 0, 16, SCATTERLIST_MAX_SEGMENT, 0x7ff))).toBe(
      'EINVAL',
    );
    expect(errno(sgAllocTableFromPages(undefined, [1], 0, 16, SCATTERLIST_MAX_SEGMENT, 0x1000))).toBe(
      'EINVAL',
    );
    expect(errno(sgAllocTableFromPages(undefined, [1], 0, 16, SCATTERLIST_MAX_SEGMENT, 0xfff))).toBe('ok');
  });
});

describe('sgAllocTableFromPages: bad arguments', () => {
  it.each([
    ['offset outside the first page', [1, 2], PAGE_SIZE, 16, SCATTERLIST_MAX_SEGMENT],
    ['negative offset', [1, 2], -1, 16, SCATTERLIST_MAX_SEGMENT],
    ['zero size', [1, 2], 0, 0, SCATTERLIST_MAX_SEGMENT],
    ['fewer frames than the bytes span', [1, 2], 1, 2 * PAGE_SIZE, SCATTERLIST_MAX_SEGMENT],
    ['a negative frame', [1, -2], 0, 2 * PAGE_SIZE, SCATTERLIST_MAX_SEGMENT],
    ['a fractional frame', [1.5], 0, 16, SCATTERLIST_MAX_SEGMENT],
    ['a frame beyond 2^52 bytes', [pow2(40)], 0, 16, SCATTERLIST_MAX_SEGMENT],
    ['max_segment above UINT_MAX', [1], 0, 16, pow2(32)],
  ])('refuses %s with EINVAL and leaves the table as it was', (_name, pfns, offset, size, maxSegment) => {
    const t = unwrap(
      sgAllocTableFromPages(undefined, [40, 41, 50], 0, 3 * PAGE_SIZE, SCATTERLIST_MAX_SEGMENT),
    );
    t.setDma(0, 0x9000, 2 * PAGE_SIZE);
    const before = t.entries();
    const r = sgAllocTableFromPages(t, pfns, offset, size, maxSegment);
    expect(errno(r)).toBe('EINVAL');
    expect(E.isLeft(r) && r.left.message.length > 0).toBe(true);
    expect(t.entries()).toEqual(before);
    expect(t.nents).toBe(2);
  });

  it('ignores frames beyond the ones offset + size reach', () => {
    const t = unwrap(
      sgAllocTableFromPages(undefined, [1, 2, 99, 98], 0, PAGE_SIZE + 1, SCATTERLIST_MAX_SEGMENT),
    );
    expect(cpu(t)).toEqual([[PAGE_SIZE, PAGE_SIZE + 1]]);
  });
});

describe('refilling an existing table', () => {
  it('returns the same table and the same result object, without growing, when it has room', () => {
    const pages = range(1000, 1024);
    const first = sgAllocTableFromPages(undefined, pages, 0, 1024 * PAGE_SIZE, 64 * KiB);
    const t = unwrap(first);
    const capacity = t.capacity;
    for (let round = 0; round < 3; round++) {
      t.reset();
      expect(t.origNents).toBe(0);
      const again = sgAllocTableFromPages(t, pages, 0, 1024 * PAGE_SIZE, 64 * KiB);
      expect(again).toBe(first);
      expect(t.capacity).toBe(capacity);
      expect(t.origNents).toBe(64);
    }
  });

  it('grows when a refill needs more entries than it holds, keeping the result correct', () => {
    const t = unwrap(sgAllocTableFromRanges(undefined, [{ phys: 0, length: 1 }]));
    const scattered = range(0, 200).map((i) => i * 2);
    unwrap(sgAllocTableFromPages(t, scattered, 0, 200 * PAGE_SIZE, SCATTERLIST_MAX_SEGMENT));
    expect(t.origNents).toBe(200);
    expect(t.capacity).toBeGreaterThanOrEqual(200);
    expect(t.phys(199)).toBe(398 * PAGE_SIZE);
  });
});

describe('sgAllocTableFromRanges (sg_alloc_table + sg_set_page per range)', () => {
  it('makes one entry per range, in order, never merging (lib/scatterlist.c sg_alloc_table)', () => {
    const ranges = [
      { phys: 0x1000, length: 0x1000 },
      { phys: 0x2000, length: 0x1000 },
      { phys: pow2(33) + 5, length: 7 },
    ];
    const t = unwrap(sgAllocTableFromRanges(undefined, ranges));
    expect(cpu(t)).toEqual(ranges.map((r) => [r.phys, r.length]));
    expect(t.totalLength).toBe(0x2007);
  });

  it('refuses an empty list with EINVAL (lib/scatterlist.c __sg_alloc_table: nents == 0)', () => {
    expect(errno(sgAllocTableFromRanges(undefined, []))).toBe('EINVAL');
  });

  it('refuses lengths an unsigned int sg->length cannot hold, and ranges outside memory, with EINVAL (include/linux/scatterlist.h)', () => {
    const t = unwrap(sgAllocTableFromRanges(undefined, [{ phys: 0, length: 1 }]));
    expect(errno(sgAllocTableFromRanges(t, [{ phys: 0, length: pow2(32) }]))).toBe('EINVAL');
    expect(errno(sgAllocTableFromRanges(t, [{ phys: 0, length: 0 }]))).toBe('EINVAL');
    expect(errno(sgAllocTableFromRanges(t, [{ phys: pow2(52) - 1, length: 2 }]))).toBe('EINVAL');
    expect(errno(sgAllocTableFromRanges(t, [{ phys: -1, length: 2 }]))).toBe('EINVAL');
    expect(cpu(t)).toEqual([[0, 1]]);
  });
});

describe('SgTable accessors', () => {
  it('reads and writes each column, iterates both sides, and refuses indices outside the table', () => {
    const t = unwrap(
      sgAllocTableFromRanges(undefined, [
        { phys: 0x1000, length: 0x100 },
        { phys: 0x5000, length: 0x200 },
      ]),
    );
    t.setDma(0, 0x8000_0000, 0x100);
    t.setDma(1, 0x8000_0100, 0x200);
    t.setNents(1);
    const seenCpu: number[][] = [];
    t.forEachSg((p, l, i) => seenCpu.push([p, l, i]));
    expect(seenCpu).toEqual([
      [0x1000, 0x100, 0],
      [0x5000, 0x200, 1],
    ]);
    const seenDma: number[][] = [];
    t.forEachDmaSegment((a, l, i) => seenDma.push([a, l, i]));
    expect(seenDma).toEqual([[0x8000_0000, 0x100, 0]]);
    expect([t.phys(1), t.length(1), t.dmaAddress(1), t.dmaLength(1)]).toEqual([
      0x5000, 0x200, 0x8000_0100, 0x200,
    ]);
    expect(() => t.phys(2)).toThrow(RangeError);
    expect(() => t.dmaLength(-1)).toThrow(RangeError);
    expect(() => t.setDma(0, -1, 1)).toThrow(RangeError);
    expect(() => t.setNents(3)).toThrow(RangeError);
    expect(() => new SgTable(-1)).toThrow(RangeError);
  });
});

describe('real device parameters', () => {
  const sdHost = { name: 'sdhci', dmaParms: { maxSegmentSize: 64 * KiB, segmentBoundaryMask: 0xffff_ffff } };
  const usbHost = {
    name: 'xhci',
    dmaParms: { maxSegmentSize: SCATTERLIST_MAX_SEGMENT, segmentBoundaryMask: 0xffff },
  };
  const build = (dev: typeof sdHost, pfns: number[], offset: number, size: number): SgTable =>
    unwrap(
      sgAllocTableFromPages(
        undefined,
        pfns,
        offset,
        size,
        dev.dmaParms.maxSegmentSize,
        dev.dmaParms.segmentBoundaryMask,
      ),
    );
  /** dma-direct without an offset: each entry's bus address is its physical address. */
  const mapDirect = (t: SgTable): SgTable => {
    for (let i = 0; i < t.origNents; i++) t.setDma(i, t.phys(i), t.length(i));
    t.setNents(t.origNents);
    return t;
  };
  const debugFindings = (dev: typeof sdHost, t: SgTable): string[] => {
    const dbg = new DmaDebug(new EventBus<DmaDebugEvents>('dma-debug'));
    dbg.debugDmaMapSg(dev, t.entries(), t.origNents, t.nents, 0);
    return dbg.findings().map((f) => f.kind);
  };

  it('SD host (64 KiB max segment): 4 MiB of contiguous pages become 64 entries of 64 KiB', () => {
    const t = build(sdHost, range(0x80000, 1024), 0, 4 * MiB);
    expect(t.origNents).toBe(64);
    expect(t.entries().every((e) => e.length === 64 * KiB)).toBe(true);
    expect(debugFindings(sdHost, mapDirect(t))).toEqual([]);
  });

  it('SD host: 1024 scattered pages stay 1024 single-page entries', () => {
    const t = build(
      sdHost,
      range(0, 1024).map((i) => 0x80000 + ((i * 37) % 1024) * 2),
      0,
      4 * MiB,
    );
    expect(t.origNents).toBe(1024);
    expect(t.entries().every((e) => e.length === PAGE_SIZE)).toBe(true);
  });

  it('SD host: an offset buffer keeps 16 pages per entry, so the first is shorter by the offset', () => {
    const t = build(sdHost, range(0x80000, 17), 0x800, 16 * PAGE_SIZE);
    expect(cpu(t)).toEqual([
      [0x8000_0800, 64 * KiB - 0x800],
      [0x8001_0000, 0x800],
    ]);
  });

  it('USB host (64 KiB boundary) above 4 GiB: 1 MiB of contiguous pages is cut at every 64 KiB boundary', () => {
    const first = 0x1_0000_3000 / PAGE_SIZE;
    const t = build(usbHost, range(first, 256), 0, MiB);
    expect(t.origNents).toBe(17);
    expect(cpu(t)[0]).toEqual([0x1_0000_3000, 0xd000]);
    expect(cpu(t)[1]).toEqual([0x1_0001_0000, 0x10000]);
    expect(cpu(t)[16]).toEqual([0x1_0010_0000, 0x3000]);
    expect(debugFindings(usbHost, mapDirect(t))).toEqual([]);
  });

  it('USB host: a table built without the boundary is flagged by DMA debug when mapped directly (kernel/dma/debug.c check_sg_segment)', () => {
    const t = unwrap(sgAllocTableFromPages(undefined, range(0x10003, 256), 0, MiB, SCATTERLIST_MAX_SEGMENT));
    expect(t.origNents).toBe(1);
    expect(debugFindings(usbHost, mapDirect(t))).toContain('sg-segment-boundary');
  });
});
