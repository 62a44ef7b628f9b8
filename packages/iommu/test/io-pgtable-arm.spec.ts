import { fc, test as fcTest } from '@fast-check/vitest';
import { fail, type KResult, ok, PhysicalMemory, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  ARM_LPAE_S1_PGSIZE_BITMAP,
  ArmLpaeS1Pgtable,
  armLpaeProtToPte,
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  type IommuFlushOps,
  type IoTranslation,
} from '../src/io-pgtable/index.js';
import { Iotlb, IotlbGather } from '../src/iotlb/index.js';

const SZ_4K = 4096;
const SZ_2M = 2 ** 21;
const SZ_1G = 2 ** 30;
const SZ_2G = 2 ** 31;
const RW = IOMMU_READ | IOMMU_WRITE;
const BANK = { name: 'tables', base: 0x8000_0000, size: 4 << 20 };

/** A table over a 4 MiB bank; its page source hands out at most `budget` more pages. */
class Fixture {
  readonly memory = new PhysicalMemory([BANK]);
  readonly freed: number[] = [];
  budget = 1000;
  readonly pt: ArmLpaeS1Pgtable;
  private next = BANK.base / SZ_4K;

  constructor(tlb?: IommuFlushOps) {
    this.pt = unwrap(
      ArmLpaeS1Pgtable.alloc({
        memory: this.memory,
        allocTable: () => this.allocTable(),
        freeTable: (pfn) => {
          this.budget++;
          this.freed.push(pfn);
        },
        ...(tlb ? { tlb } : {}),
      }),
    );
  }

  private allocTable(): KResult<number> {
    if (this.budget <= 0) return fail('ENOMEM', 'test page source is empty');
    this.budget--;
    return ok(this.freed.pop() ?? this.next++);
  }
}

const fixture = (tlb?: IommuFlushOps): Fixture => new Fixture(tlb);

/** Reads the 64-bit descriptor at `index` of the table at physical address `table`, from memory. */
const readPte = (memory: PhysicalMemory, table: number, index: number): bigint => {
  const bytes = new Uint8Array(8);
  unwrap(memory.read(table + index * 8, bytes, 0, 8));
  return new DataView(bytes.buffer).getBigUint64(0, true);
};

/** Walks the tables by reading memory only, as the SMMU does: returns the leaf descriptor and its level. */
const walkMemory = (
  memory: PhysicalMemory,
  ttbr: number,
  iova: number,
): { pte: bigint; level: number } | null => {
  let table = ttbr;
  for (let level = 0; level < 4; level++) {
    const shift = 39 - 9 * level;
    const index = Number((BigInt(iova) >> BigInt(shift)) & 511n);
    const pte = readPte(memory, table, index);
    if ((pte & 1n) === 0n) return null;
    if (level === 3 || (pte & 3n) === 1n) return { pte, level };
    table = Number(pte & 0xffff_ffff_f000n);
  }
  return null;
};

const isErr = (r: KResult<number>, code: string): boolean => E.isLeft(r) && r.left.code === code;

describe('ArmLpaeS1Pgtable — arm_lpae_run_tests (drivers/iommu/io-pgtable-arm.c)', () => {
  const sizes = [SZ_4K, SZ_2M, SZ_1G];

  it('empty page tables provide no translation (selftest: initial sanity checks)', () => {
    const { pt } = fixture();
    expect(pt.iovaToPhys(42)).toBe(-1);
    expect(pt.iovaToPhys(SZ_1G + 42)).toBe(-1);
    expect(pt.iovaToPhys(SZ_2G + 42)).toBe(-1);
  });

  it('maps every supported page size, refuses overlapping maps, and translates (selftest: distinct mappings)', () => {
    const { pt } = fixture();
    expect(pt.pgsizeBitmap).toBe(SZ_4K + SZ_2M + SZ_1G);
    sizes.forEach((size, j) => {
      const iova = j * SZ_1G;
      expect(pt.mapPages(iova, iova, size, 1, RW | IOMMU_NOEXEC | IOMMU_CACHE)).toEqual(ok(size));
      expect(isErr(pt.mapPages(iova, iova + size, size, 1, IOMMU_READ | IOMMU_NOEXEC), 'EEXIST')).toBe(true);
      expect(pt.iovaToPhys(iova + 42)).toBe(iova + 42);
    });
  });

  it('unmaps every page size, then remaps it (selftest: full unmap, remap full block)', () => {
    const { pt } = fixture();
    for (const [j, size] of sizes.entries()) unwrap(pt.mapPages(j * SZ_1G, j * SZ_1G, size, 1, RW));
    sizes.forEach((size, j) => {
      const iova = j * SZ_1G;
      expect(pt.unmapPages(iova, size, 1)).toBe(size);
      expect(pt.iovaToPhys(iova + 42)).toBe(-1);
      expect(pt.mapPages(iova, iova, size, 1, IOMMU_WRITE)).toEqual(ok(size));
      expect(pt.iovaToPhys(iova + 42)).toBe(iova + 42);
    });
  });

  it('maps and unmaps the last largest page of the input address space (selftest: IAS corner)', () => {
    const { pt } = fixture();
    const iova = 2 ** 48 - SZ_1G;
    expect(pt.mapPages(iova, iova, SZ_1G, 1, RW)).toEqual(ok(SZ_1G));
    expect(pt.iovaToPhys(2 ** 48 - 1)).toBe(2 ** 48 - 1);
    expect(pt.unmapPages(iova, SZ_1G, 1)).toBe(SZ_1G);
  });
});

describe('ArmLpaeS1Pgtable — descriptors in physical memory', () => {
  it('table descriptors hold the next table’s physical address, so a memory-only walk finds each leaf', () => {
    const { memory, pt } = fixture();
    const cases = [
      { iova: 0x1000_4000_3000, phys: 0xab_cdef_1000, size: SZ_4K, level: 3 },
      { iova: 0x7f_ffe0_0000, phys: 0x1234_4000_0000, size: SZ_2M, level: 2 },
      { iova: 0xffff_4000_0000, phys: 0x8000_0000, size: SZ_1G, level: 1 },
    ];
    for (const c of cases) unwrap(pt.mapPages(c.iova, c.phys, c.size, 1, RW));
    for (const c of cases) {
      const found = walkMemory(memory, pt.ttbr, c.iova + 123);
      expect(found?.level).toBe(c.level);
      const outputAddress = Number((found?.pte ?? 0n) & 0xffff_ffff_f000n);
      expect(outputAddress).toBe(c.phys);
      expect(pt.iovaToPhys(c.iova + 123)).toBe(c.phys + 123);
    }
  });

  it('the walker reads what is in memory: clearing a leaf with a plain memory write unmaps it', () => {
    const { memory, pt } = fixture();
    unwrap(pt.mapPages(0x20_0000, 0x5000, SZ_4K, 1, RW));
    // Find the leaf table through memory and zero the descriptor.
    let table = pt.ttbr;
    for (const index of [0, 0, 1]) table = Number(readPte(memory, table, index) & 0xffff_ffff_f000n);
    unwrap(memory.write(table, new Uint8Array(8), 0, 8));
    expect(pt.iovaToPhys(0x20_0000)).toBe(-1);
  });

  it('page and block descriptors carry type 0b11 / 0b01, AF and the output address (arm_lpae_init_pte)', () => {
    const { memory, pt } = fixture();
    unwrap(pt.mapPages(0, 0x4000, SZ_4K, 1, RW));
    unwrap(pt.mapPages(SZ_1G, SZ_2M * 3, SZ_2M, 1, RW));
    unwrap(pt.mapPages(SZ_2G, SZ_2G, SZ_1G, 1, RW));
    const page = walkMemory(memory, pt.ttbr, 0)?.pte ?? 0n;
    const block2m = walkMemory(memory, pt.ttbr, SZ_1G)?.pte ?? 0n;
    const block1g = walkMemory(memory, pt.ttbr, SZ_2G)?.pte ?? 0n;
    expect(page & 3n).toBe(3n);
    expect(block2m & 3n).toBe(1n);
    expect(block1g & 3n).toBe(1n);
    for (const pte of [page, block2m, block1g]) expect(pte & (1n << 10n)).toBe(1n << 10n);
    expect(page & 0xffff_ffff_f000n).toBe(0x4000n);
    expect(block2m & 0xffff_ffff_f000n).toBe(BigInt(SZ_2M * 3));
  });

  /** The stage-1 attribute bits, written out from the Arm ARM rather than from the implementation. */
  const expectedAttrs = (prot: number): bigint => {
    let pte = (1n << 11n) | (1n << 10n); // nG, AF
    if (!(prot & IOMMU_WRITE) && prot & IOMMU_READ) pte |= 2n << 6n; // AP[2]: read-only
    if (!(prot & IOMMU_PRIV)) pte |= 1n << 6n; // AP[1]: EL0 (unprivileged) access
    if (prot & IOMMU_MMIO)
      pte |= 2n << 2n; // AttrIndx 2: device
    else if (prot & IOMMU_CACHE) pte |= 1n << 2n; // AttrIndx 1: write-back
    pte |= prot & IOMMU_CACHE ? 3n << 8n : 2n << 8n; // SH: inner / outer shareable
    if (prot & IOMMU_NOEXEC) pte |= 3n << 53n; // UXN | PXN
    return pte;
  };

  it.each([
    ['READ', IOMMU_READ],
    ['WRITE', IOMMU_WRITE],
    ['READ|WRITE', RW],
    ['READ|WRITE|CACHE', RW | IOMMU_CACHE],
    ['READ|MMIO', IOMMU_READ | IOMMU_MMIO],
    ['READ|MMIO|CACHE', IOMMU_READ | IOMMU_MMIO | IOMMU_CACHE],
    ['READ|NOEXEC', IOMMU_READ | IOMMU_NOEXEC],
    ['READ|WRITE|PRIV', RW | IOMMU_PRIV],
  ])(
    'prot %s gives the stage-1 AP/AttrIndx/SH/XN/nG/AF bits of arm_lpae_prot_to_pte (drivers/iommu/io-pgtable-arm.c)',
    (_, prot) => {
      const { memory, pt } = fixture();
      unwrap(pt.mapPages(SZ_1G, 0x9000, SZ_4K, 1, prot));
      const pte = walkMemory(memory, pt.ttbr, SZ_1G)?.pte ?? 0n;
      const attrMask = (0x3ffn << 2n) | (3n << 53n);
      expect(pte & attrMask).toBe(expectedAttrs(prot));
      expect(armLpaeProtToPte(prot)).toBe(expectedAttrs(prot));
    },
  );

  fcTest.prop([
    fc.integer({ min: 1, max: 63 }).filter((p) => (p & RW) !== 0),
    fc.constantFrom(SZ_4K, SZ_2M, SZ_1G),
  ])(
    'every prot and page size: memory holds arm_lpae_prot_to_pte’s bits, and the walk reads the grant back',
    (prot, size) => {
      const { memory, pt } = fixture();
      unwrap(pt.mapPages(SZ_1G, SZ_1G, size, 1, prot));
      const pte = walkMemory(memory, pt.ttbr, SZ_1G)?.pte ?? 0n;
      expect(pte & ((0x3ffn << 2n) | (3n << 53n))).toBe(expectedAttrs(prot));
      const out: IoTranslation = { phys: 0, pgsize: 0, prot: 0 };
      expect(pt.walk(SZ_1G, out)).toBe(true);
      // Stage 1 always grants read; device memory is never cacheable.
      const granted = (prot & IOMMU_MMIO ? prot & ~IOMMU_CACHE : prot) | IOMMU_READ;
      expect(out.prot).toBe(granted);
    },
  );

  it('the walk reports the permissions a leaf grants; stage 1 cannot express write-only', () => {
    const { pt } = fixture();
    unwrap(pt.mapPages(0, 0x1000, SZ_4K, 1, IOMMU_READ | IOMMU_CACHE));
    unwrap(pt.mapPages(SZ_4K, 0x2000, SZ_4K, 1, IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_PRIV));
    unwrap(pt.mapPages(SZ_2M, SZ_2M, SZ_2M, 1, RW | IOMMU_MMIO));
    const out: IoTranslation = { phys: 0, pgsize: 0, prot: 0 };
    expect(pt.walk(42, out)).toBe(true);
    expect(out).toEqual({ phys: 0x1000 + 42, pgsize: SZ_4K, prot: IOMMU_READ | IOMMU_CACHE });
    expect(pt.walk(SZ_4K, out)).toBe(true);
    expect(out.prot).toBe(RW | IOMMU_NOEXEC | IOMMU_PRIV);
    expect(pt.walk(SZ_2M + 5, out)).toBe(true);
    expect(out).toEqual({ phys: SZ_2M + 5, pgsize: SZ_2M, prot: RW | IOMMU_MMIO });
    expect(pt.walk(2 * SZ_4K, out)).toBe(false);
  });
});

describe('ArmLpaeS1Pgtable — kernel rules', () => {
  it('unmapping part of a block returns 0 and leaves the block mapped (mainline io-pgtable-arm.c: no split)', () => {
    const { pt } = fixture();
    unwrap(pt.mapPages(SZ_1G, SZ_1G, SZ_2M, 1, RW));
    unwrap(pt.mapPages(SZ_2G, SZ_2G, SZ_1G, 1, RW));
    expect(pt.unmapPages(SZ_1G + SZ_4K, SZ_4K, 1)).toBe(0);
    expect(pt.unmapPages(SZ_1G, SZ_4K, 1)).toBe(0);
    expect(pt.unmapPages(SZ_2G + SZ_2M, SZ_2M, 1)).toBe(0);
    expect(pt.iovaToPhys(SZ_1G + SZ_4K)).toBe(SZ_1G + SZ_4K);
    expect(pt.iovaToPhys(SZ_2G + SZ_2M)).toBe(SZ_2G + SZ_2M);
  });

  it('a page inside a mapped block is refused with EEXIST (__arm_lpae_map: "We require an unmap first")', () => {
    const { pt } = fixture();
    unwrap(pt.mapPages(SZ_1G, SZ_1G, SZ_2M, 1, RW));
    expect(isErr(pt.mapPages(SZ_1G + SZ_4K, 0, SZ_4K, 1, RW), 'EEXIST')).toBe(true);
  });

  it('one call maps at most to the end of its table; the caller loops (arm_lpae_max_entries)', () => {
    const { pt } = fixture();
    expect(pt.mapPages(0, 0, SZ_4K, 1024, RW)).toEqual(ok(512 * SZ_4K));
    expect(pt.mapPages(SZ_2M + 510 * SZ_4K, 0, SZ_4K, 5, RW)).toEqual(ok(2 * SZ_4K));
    expect(pt.unmapPages(0, SZ_4K, 1024)).toBe(512 * SZ_4K);
  });

  it('unmap stops at the first hole (__arm_lpae_unmap)', () => {
    const { pt } = fixture();
    unwrap(pt.mapPages(0, 0, SZ_4K, 3, RW));
    unwrap(pt.mapPages(4 * SZ_4K, 0, SZ_4K, 1, RW));
    expect(pt.unmapPages(0, SZ_4K, 5)).toBe(3 * SZ_4K);
    expect(pt.unmapPages(3 * SZ_4K, SZ_4K, 2)).toBe(0);
    expect(pt.iovaToPhys(4 * SZ_4K)).toBe(0);
  });

  it('unmap leaves emptied tables in place; free() returns them (io-pgtable-arm.c frees tables only on teardown)', () => {
    const f = fixture();
    unwrap(f.pt.mapPages(0x1000_4000_0000, 0, SZ_4K, 1, RW));
    expect(f.pt.tablePages).toBe(4);
    expect(f.pt.unmapPages(0x1000_4000_0000, SZ_4K, 1)).toBe(SZ_4K);
    expect(f.pt.tablePages).toBe(4);
    f.pt.free();
    expect(f.freed).toHaveLength(4);
    expect(() => f.pt.iovaToPhys(0)).toThrow(/after free/);
  });

  it('a block mapped over a table frees that table and what it mapped, after a walk flush (arm_lpae_init_pte)', () => {
    const walks: number[][] = [];
    const tlb: IommuFlushOps = {
      tlbFlushAll: () => {},
      tlbFlushWalk: (iova, size, granule) => walks.push([iova, size, granule]),
      tlbAddPage: () => {},
    };
    const f = fixture(tlb);
    unwrap(f.pt.mapPages(SZ_2M, 0x7000, SZ_4K, 1, RW));
    expect(f.pt.tablePages).toBe(4);
    expect(f.pt.mapPages(0, 0x4000_0000, SZ_2M, 2, RW)).toEqual(ok(2 * SZ_2M));
    expect(f.pt.tablePages).toBe(3);
    expect(walks).toEqual([[SZ_2M, SZ_2M, SZ_4K]]);
    expect(f.pt.iovaToPhys(SZ_2M)).toBe(0x4000_0000 + SZ_2M);
  });

  it('a block-sized unmap over a table clears and frees the table (__arm_lpae_unmap, non-leaf entry)', () => {
    const f = fixture();
    unwrap(f.pt.mapPages(SZ_2M + SZ_4K, 0x7000, SZ_4K, 3, RW));
    expect(f.pt.unmapPages(SZ_2M, SZ_2M, 1)).toBe(SZ_2M);
    expect(f.pt.tablePages).toBe(3);
    expect(f.pt.iovaToPhys(SZ_2M + SZ_4K)).toBe(-1);
  });

  it.each([
    {
      what: 'an unsupported page size',
      iova: 0,
      paddr: 0,
      pgsize: 8192,
      pgcount: 1,
      prot: RW,
      code: 'EINVAL',
    },
    { what: 'a zero page count', iova: 0, paddr: 0, pgsize: SZ_4K, pgcount: 0, prot: RW, code: 'EINVAL' },
    { what: 'an unaligned IOVA', iova: SZ_4K, paddr: 0, pgsize: SZ_2M, pgcount: 1, prot: RW, code: 'EINVAL' },
    {
      what: 'an unaligned physical address',
      iova: 0,
      paddr: SZ_4K,
      pgsize: SZ_2M,
      pgcount: 1,
      prot: RW,
      code: 'EINVAL',
    },
    {
      what: 'prot without READ or WRITE',
      iova: 0,
      paddr: 0,
      pgsize: SZ_4K,
      pgcount: 1,
      prot: IOMMU_CACHE,
      code: 'EINVAL',
    },
    {
      what: 'an IOVA beyond 48 bits',
      iova: 2 ** 48,
      paddr: 0,
      pgsize: SZ_4K,
      pgcount: 1,
      prot: RW,
      code: 'ERANGE',
    },
    {
      what: 'a physical range beyond 48 bits',
      iova: 0,
      paddr: 2 ** 48 - SZ_4K,
      pgsize: SZ_4K,
      pgcount: 2,
      prot: RW,
      code: 'ERANGE',
    },
  ])(
    'map refuses $what with $code, changing nothing (arm_lpae_map_pages)',
    ({ iova, paddr, pgsize, pgcount, prot, code }) => {
      const f = fixture();
      expect(isErr(f.pt.mapPages(iova, paddr, pgsize, pgcount, prot), code)).toBe(true);
      expect(f.pt.tablePages).toBe(1);
      expect(f.pt.iovaToPhys(iova)).toBe(-1);
    },
  );

  it('running out of table pages fails with ENOMEM and unlinks the tables that map had linked', () => {
    const f = fixture();
    f.budget = 2;
    const r = f.pt.mapPages(0, 0, SZ_4K, 1, RW);
    expect(isErr(r, 'ENOMEM')).toBe(true);
    expect(f.pt.tablePages).toBe(1);
    expect(f.budget).toBe(2);
    f.budget = 3;
    expect(f.pt.mapPages(0, 0, SZ_4K, 1, RW)).toEqual(ok(SZ_4K));
  });

  it('a successful map returns a preallocated result (no allocation on the hot path)', () => {
    const { pt } = fixture();
    expect(pt.mapPages(0, 0, SZ_4K, 1, RW)).toBe(pt.mapPages(SZ_4K, 0, SZ_4K, 1, RW));
  });

  it('leaves cleared by unmap go into the gather; a queued gather collects nothing (io_pgtable_tlb_add_page)', () => {
    const iotlb = new Iotlb();
    const f = fixture(iotlb.flushOps(1));
    unwrap(f.pt.mapPages(0, 0, SZ_4K, 8, RW));
    const gather = new IotlbGather(iotlb, 1);
    expect(f.pt.unmapPages(SZ_4K, SZ_4K, 3, gather)).toBe(3 * SZ_4K);
    expect([gather.start, gather.end, gather.pgsize]).toEqual([SZ_4K, 4 * SZ_4K - 1, SZ_4K]);
    gather.sync();
    gather.queued = true;
    expect(f.pt.unmapPages(5 * SZ_4K, SZ_4K, 1, gather)).toBe(SZ_4K);
    expect(gather.empty).toBe(true);
  });

  it('emits map, unmap, table-alloc and table-free events', () => {
    const f = fixture();
    const seen: string[] = [];
    f.pt.bus.tap((_, type, payload) => seen.push(`${type} ${JSON.stringify(payload)}`));
    unwrap(f.pt.mapPages(SZ_1G, 0x3000, SZ_4K, 1, IOMMU_READ));
    f.pt.unmapPages(SZ_1G, SZ_4K, 1);
    f.pt.free();
    expect(seen.filter((s) => s.startsWith('table-alloc'))).toHaveLength(3);
    expect(seen).toContain(
      `map ${JSON.stringify({ iova: SZ_1G, paddr: 0x3000, pgsize: SZ_4K, pgcount: 1, prot: 1 })}`,
    );
    expect(seen).toContain(`unmap ${JSON.stringify({ iova: SZ_1G, pgsize: SZ_4K, pgcount: 1 })}`);
    expect(seen.filter((s) => s.startsWith('table-free'))).toHaveLength(4);
  });

  it('exports the 4K | 2M | 1G page-size bitmap of arm_lpae_restrict_pgsizes', () => {
    expect(ARM_LPAE_S1_PGSIZE_BITMAP).toBe(0x4020_1000);
  });
});
