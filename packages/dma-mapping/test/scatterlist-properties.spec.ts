import { fc, it as fcIt } from '@fast-check/vitest';
import { type KResult, PAGE_SIZE, pow2, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect } from 'vitest';
import {
  SCATTERLIST_MAX_SEGMENT,
  type SgTable,
  sgAllocTableFromPages,
  sgAllocTableFromRanges,
} from '../src/scatterlist/index.js';

interface Build {
  readonly pfns: number[];
  readonly offset: number;
  readonly size: number;
  readonly maxSegment: number;
  readonly mask: number;
}

/** Page lists made of runs, each continuing the previous one (gap 0) or jumping anywhere near it. */
const pageList = fc
  .tuple(
    fc.constantFrom(0, 0x8_0000, pow2(28), pow2(40) - 4096),
    fc.array(
      fc.record({
        gap: fc.oneof(fc.constant(0), fc.integer({ min: -40, max: 40 })),
        length: fc.integer({ min: 1, max: 40 }),
      }),
      { minLength: 1, maxLength: 8 },
    ),
  )
  .map(([base, runs]) => {
    const pfns: number[] = [];
    let next = base;
    for (const { gap, length } of runs) {
      next = Math.min(Math.max(0, next + gap), pow2(40) - 1 - length);
      for (let i = 0; i < length; i++) pfns.push(next++);
    }
    return pfns;
  });

const build: fc.Arbitrary<Build> = fc
  .record({
    pfns: pageList,
    offset: fc.integer({ min: 0, max: PAGE_SIZE - 1 }),
    sizeFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    maxSegment: fc.oneof(
      fc.integer({ min: PAGE_SIZE, max: 24 * PAGE_SIZE }),
      fc.constantFrom(65536, SCATTERLIST_MAX_SEGMENT),
    ),
    mask: fc.oneof(
      fc.integer({ min: 12, max: 20 }).map((k) => pow2(k) - 1),
      fc.constantFrom(0xffff_ffff, Number.MAX_SAFE_INTEGER),
    ),
  })
  .map(({ pfns, offset, sizeFraction, maxSegment, mask }) => {
    const most = pfns.length * PAGE_SIZE - offset;
    return { pfns, offset, size: Math.max(1, Math.floor(sizeFraction * most)), maxSegment, mask };
  });

const run = (table: SgTable | undefined, b: Build): KResult<SgTable> =>
  sgAllocTableFromPages(table, b.pfns, b.offset, b.size, b.maxSegment, b.mask);

/** The buffer's bytes as one (phys, length) piece per page, in order. */
const expectedPieces = (b: Build): [number, number][] => {
  const out: [number, number][] = [];
  const end = b.offset + b.size;
  for (let p = 0; p * PAGE_SIZE < end; p++) {
    const lo = Math.max(b.offset, p * PAGE_SIZE);
    const hi = Math.min(end, (p + 1) * PAGE_SIZE);
    out.push([(b.pfns[p] as number) * PAGE_SIZE + (lo - p * PAGE_SIZE), hi - lo]);
  }
  return out;
};

/** The table's entries cut at page boundaries. */
const tablePieces = (t: SgTable): [number, number][] => {
  const out: [number, number][] = [];
  t.forEachSg((phys, length) => {
    for (let at = phys, left = length; left > 0; ) {
      const n = Math.min(left, PAGE_SIZE - (at % PAGE_SIZE));
      out.push([at, n]);
      at += n;
      left -= n;
    }
  });
  return out;
};

const window = (addr: number, mask: number): number => Math.floor(addr / (mask + 1));
const pageSpan = (phys: number, length: number): number =>
  Math.floor((phys + length - 1) / PAGE_SIZE) - Math.floor(phys / PAGE_SIZE) + 1;

/** A line-by-line transcription of sg_alloc_append_table_from_pages() on an empty table. */
const kernelFromPages = (b: Build): [number, number][] => {
  const maxSegment = b.maxSegment - (b.maxSegment % PAGE_SIZE);
  const nPages = Math.ceil((b.offset + b.size) / PAGE_SIZE);
  const pages = b.pfns.slice(0, nPages);
  const mergeable = (a: number, prev: number) => a === prev + 1;
  let chunks = 1;
  let segLen = 0;
  for (let i = 1; i < nPages; i++) {
    segLen += PAGE_SIZE;
    if (segLen >= maxSegment || !mergeable(pages[i] as number, pages[i - 1] as number)) {
      chunks++;
      segLen = 0;
    }
  }
  const out: [number, number][] = [];
  let curPage = 0;
  let size = b.size;
  let offset = b.offset;
  for (let i = 0; i < chunks; i++) {
    let j = curPage + 1;
    segLen = 0;
    for (; j < nPages; j++) {
      segLen += PAGE_SIZE;
      if (segLen >= maxSegment || !mergeable(pages[j] as number, pages[j - 1] as number)) break;
    }
    const chunkSize = (j - curPage) * PAGE_SIZE - offset;
    out.push([(pages[curPage] as number) * PAGE_SIZE + offset, Math.min(size, chunkSize)]);
    size -= chunkSize;
    offset = 0;
    curPage = j;
  }
  return out;
};

describe('sgAllocTableFromPages properties', () => {
  fcIt.prop([build])('covers exactly the requested bytes, in order', (b) => {
    const t = unwrap(run(undefined, b));
    expect(tablePieces(t)).toEqual(expectedPieces(b));
    expect(t.totalLength).toBe(b.size);
    expect(t.nents).toBe(t.origNents);
  });

  fcIt.prop([build])('keeps every entry within max_segment and inside one boundary window', (b) => {
    const t = unwrap(run(undefined, b));
    t.forEachSg((phys, length) => {
      expect(length).toBeGreaterThan(0);
      expect(length).toBeLessThanOrEqual(b.maxSegment - (b.maxSegment % PAGE_SIZE));
      expect(window(phys, b.mask)).toBe(window(phys + length - 1, b.mask));
    });
  });

  fcIt.prop([build])('merges adjacent entries whenever the rules allow (maximal merging)', (b) => {
    const t = unwrap(run(undefined, b));
    const maxPages = Math.floor(b.maxSegment / PAGE_SIZE);
    for (let i = 0; i + 1 < t.origNents; i++) {
      const phys = t.phys(i);
      const end = t.phys(i + 1) + t.length(i + 1);
      const couldMerge =
        phys + t.length(i) === t.phys(i + 1) &&
        pageSpan(phys, end - phys) <= maxPages &&
        window(phys, b.mask) === window(end - 1, b.mask);
      expect(couldMerge).toBe(false);
    }
  });

  fcIt.prop([build])('with no boundary, builds exactly what sg_alloc_append_table_from_pages builds', (b) => {
    const noBoundary = { ...b, mask: Number.MAX_SAFE_INTEGER };
    const t = unwrap(run(undefined, noBoundary));
    expect(t.entries().map((e) => [e.phys, e.length])).toEqual(kernelFromPages(noBoundary));
  });

  fcIt.prop([build, build, fc.boolean()])(
    'refilling an existing table gives what a fresh build gives',
    (first, second, mapFirst) => {
      const t = unwrap(run(undefined, first));
      if (mapFirst) {
        for (let i = 0; i < t.origNents; i++) t.setDma(i, i * PAGE_SIZE, t.length(i));
        t.setNents(1);
      }
      const refilled = unwrap(run(t, second));
      expect(refilled).toBe(t);
      const fresh = unwrap(run(undefined, second));
      expect(t.entries()).toEqual(fresh.entries());
      expect([t.nents, t.origNents, t.totalLength]).toEqual([
        fresh.nents,
        fresh.origNents,
        fresh.totalLength,
      ]);
    },
  );

  fcIt.prop([
    build,
    fc.array(fc.record({ phys: fc.nat(pow2(45)), length: fc.integer({ min: 1, max: 1 << 20 }) })),
  ])('a failed build leaves the table as it was; a ranges build keeps one entry per range', (b, ranges) => {
    const t = unwrap(run(undefined, b));
    const before = t.entries();
    expect(E.isLeft(run(t, { ...b, offset: PAGE_SIZE }))).toBe(true);
    expect(E.isLeft(run(t, { ...b, maxSegment: PAGE_SIZE - 1 }))).toBe(true);
    expect(t.entries()).toEqual(before);
    const r = sgAllocTableFromRanges(t, ranges);
    if (ranges.length === 0) {
      expect(E.isLeft(r)).toBe(true);
      expect(t.entries()).toEqual(before);
    } else {
      expect(t.entries().map((e) => ({ phys: e.phys, length: e.length }))).toEqual(ranges);
    }
  });
});
