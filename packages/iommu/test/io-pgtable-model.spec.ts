import { fc, test as fcTest } from '@fast-check/vitest';
import { fail, type KResult, ok, PhysicalMemory, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect } from 'vitest';
import { ArmLpaeS1Pgtable, IOMMU_READ, IOMMU_WRITE } from '../src/io-pgtable/index.js';

/*
 * A reference model of the ARM LPAE stage-1 table written as regions rather than descriptors: the
 * leaves (start → size, phys) and the tables that exist (level:start). It states Linux's rules
 * directly — EEXIST on any same-or-larger leaf, a block over a table discards the table, unmap
 * stops at a hole and refuses a partial block, tables stay until replaced, a map that cannot get its
 * tables fails with ENOMEM and changes nothing — and the real table must agree with it on every
 * result, every translation and the number of table pages.
 */

const SZ_4K = 4096;
const SZ_2M = 2 ** 21;
const SZ_1G = 2 ** 30;
/** Bytes per descriptor at each level. */
const ENTRY = [2 ** 39, SZ_1G, SZ_2M, SZ_4K];
const levelOf = (size: number): number => ENTRY.indexOf(size);
const down = (a: number, size: number): number => a - (a % size);

interface Leaf {
  readonly size: number;
  readonly phys: number;
}

class RefTable {
  readonly leaves = new Map<number, Leaf>();
  /** `${level}:${start}` for each table below the root (a level-L table spans ENTRY[L - 1]). */
  readonly tables = new Set<string>();

  /** @param budget table pages the page source can still hand out. */
  constructor(public budget: number) {}

  private hasTable(level: number, a: number): boolean {
    return level === 0 || this.tables.has(`${level}:${down(a, ENTRY[level - 1] as number)}`);
  }

  /** What the descriptor at `level` for address `a` is, if its table exists. */
  private entry(level: number, a: number): 'leaf' | 'table' | 'empty' {
    const size = ENTRY[level] as number;
    if (this.leaves.get(down(a, size))?.size === size) return 'leaf';
    return level < 3 && this.hasTable(level + 1, a) ? 'table' : 'empty';
  }

  private entriesLeft(level: number, a: number): number {
    return 512 - ((down(a, ENTRY[level] as number) / (ENTRY[level] as number)) % 512);
  }

  /** Removes tables below `level` and leaves inside `[a, a + ENTRY[level])`; their pages go back. */
  private dropBelow(level: number, a: number): void {
    const end = a + (ENTRY[level] as number);
    for (const key of [...this.tables]) {
      const [l, s] = key.split(':').map(Number) as [number, number];
      if (l > level && s >= a && s < end) {
        this.tables.delete(key);
        this.budget++;
      }
    }
    for (const s of [...this.leaves.keys()]) if (s >= a && s < end) this.leaves.delete(s);
  }

  map(iova: number, phys: number, size: number, count: number): number | 'EEXIST' | 'ENOMEM' {
    const level = levelOf(size);
    for (let l = 0; l < level; l++) {
      if (this.hasTable(l, iova) && this.entry(l, iova) === 'leaf') return 'EEXIST';
    }
    const n = Math.min(count, this.entriesLeft(level, iova));
    for (let i = 0; i < n; i++)
      if (this.hasTable(level, iova) && this.entry(level, iova + i * size) === 'leaf') return 'EEXIST';
    const path = Array.from({ length: level }, (_, l) => `${l + 1}:${down(iova, ENTRY[l] as number)}`);
    const missing = path.filter((key) => !this.tables.has(key)).length;
    if (missing > this.budget) return 'ENOMEM';
    this.budget -= missing;
    for (const key of path) this.tables.add(key);
    for (let i = 0; i < n; i++) {
      const a = iova + i * size;
      if (this.entry(level, a) === 'table') this.dropBelow(level, a);
      this.leaves.set(a, { size, phys: phys + i * size });
    }
    return n * size;
  }

  unmap(iova: number, size: number, count: number): number {
    const level = levelOf(size);
    for (let l = 0; l < level; l++) if (!this.hasTable(l, iova) || this.entry(l, iova) !== 'table') return 0;
    const n = Math.min(count, this.entriesLeft(level, iova));
    let i = 0;
    for (; i < n; i++) {
      const a = iova + i * size;
      const e = this.entry(level, a);
      if (e === 'empty') break;
      if (e === 'table') this.dropBelow(level, a);
      this.leaves.delete(a);
    }
    return i * size;
  }

  translate(a: number): number {
    for (let l = 1; l < 4; l++) {
      const leaf = this.leaves.get(down(a, ENTRY[l] as number));
      if (leaf !== undefined && leaf.size === ENTRY[l] && this.hasTable(l, a))
        return leaf.phys + (a % leaf.size);
    }
    return -1;
  }
}

/** IOVA regions under different level-0 and level-1 entries, so walks share and split tables. */
const REGIONS = [0, SZ_1G, 2 ** 39, 2 ** 48 - 2 * SZ_1G];

const sizeArb = fc.constantFrom(SZ_4K, SZ_4K, SZ_2M, SZ_1G);
const opArb = fc.oneof(
  fc.record({
    kind: fc.constant('map' as const),
    region: fc.nat(REGIONS.length - 1),
    size: sizeArb,
    slot: fc.nat(1100),
    count: fc.integer({ min: 1, max: 600 }),
    physPage: fc.nat(2 ** 20),
  }),
  fc.record({
    kind: fc.constant('unmap' as const),
    region: fc.nat(REGIONS.length - 1),
    size: sizeArb,
    slot: fc.nat(1100),
    count: fc.integer({ min: 1, max: 600 }),
  }),
);

/** Keeps pages, 2M blocks and 1G blocks overlapping in the first 2 GiB of a region. */
const placement = (region: number, size: number, slot: number, count: number): [number, number] => {
  const slots = size === SZ_4K ? 1100 : size === SZ_2M ? 24 : 2;
  const n = size === SZ_4K ? count : size === SZ_2M ? 1 + (count % 3) : 1;
  return [(REGIONS[region] as number) + (slot % slots) * size, n];
};

/** A table whose page source hands out the root and then at most `budget` more pages. */
const build = (budget: number) => {
  const memory = new PhysicalMemory([{ name: 'tables', base: 0x1_0000_0000, size: 16 << 20 }]);
  const free: number[] = [];
  let next = 0x1_0000_0000 / SZ_4K;
  let left = budget + 1;
  const pt = unwrap(
    ArmLpaeS1Pgtable.alloc({
      memory,
      allocTable: (): KResult<number> => {
        if (left === 0) return fail('ENOMEM', 'page source empty');
        left--;
        return ok(free.pop() ?? next++);
      },
      freeTable: (pfn) => {
        left++;
        free.push(pfn);
      },
    }),
  );
  return { memory, pt, free, allocated: () => next - 0x1_0000_0000 / SZ_4K };
};

/** Reads a descriptor straight from memory. */
const pteAt = (memory: PhysicalMemory, table: number, index: number): bigint => {
  const b = new Uint8Array(8);
  unwrap(memory.read(table + index * 8, b, 0, 8));
  return new DataView(b.buffer).getBigUint64(0, true);
};

/** The translation a walker that only reads memory finds. */
const memoryWalk = (memory: PhysicalMemory, ttbr: number, iova: number): number => {
  let table = ttbr;
  for (let level = 0; level < 4; level++) {
    const pte = pteAt(memory, table, Number((BigInt(iova) >> BigInt(39 - 9 * level)) & 511n));
    if ((pte & 1n) === 0n) return -1;
    const base = Number(pte & 0xffff_ffff_f000n);
    if (level === 3 || (pte & 3n) === 1n) return base + (iova % (ENTRY[level] as number));
    table = base;
  }
  return -1;
};

describe('ArmLpaeS1Pgtable against a region model (drivers/iommu/io-pgtable-arm.c)', () => {
  const budgetArb = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constant(10_000));

  fcTest.prop([fc.array(opArb, { minLength: 1, maxLength: 25 }), budgetArb], { numRuns: 150 })(
    'map/unmap results (ENOMEM included), translations and table pages equal the model; memory agrees',
    (ops, budget) => {
      const { memory, pt, free, allocated } = build(budget);
      const ref = new RefTable(budget);
      const probes = new Set<number>();
      for (const op of ops) {
        const [iova, count] = placement(op.region, op.size, op.slot, op.count);
        probes.add(iova + 42);
        probes.add(iova + op.size * count - 1);
        if (op.kind === 'map') {
          const phys = (op.physPage % (2 ** 47 / op.size)) * op.size;
          const want = ref.map(iova, phys, op.size, count);
          const got = pt.mapPages(iova, phys, op.size, count, IOMMU_READ | IOMMU_WRITE);
          expect(E.isLeft(got) ? got.left.code : got.right).toBe(want);
        } else {
          expect(pt.unmapPages(iova, op.size, count)).toBe(ref.unmap(iova, op.size, count));
        }
        expect(pt.tablePages).toBe(ref.tables.size + 1);
      }
      for (const leafStart of ref.leaves.keys()) probes.add(leafStart);
      for (const a of probes) {
        expect(pt.iovaToPhys(a)).toBe(ref.translate(a));
        expect(memoryWalk(memory, pt.ttbr, a)).toBe(ref.translate(a));
      }
      pt.free();
      expect(free.length).toBe(allocated());
    },
  );
});
