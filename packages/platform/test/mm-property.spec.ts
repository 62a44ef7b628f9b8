import { fc, test as fcTest } from '@fast-check/vitest';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect } from 'vitest';
import { PAGE_SIZE, unwrap } from '../src/index.js';
import type { Mm } from '../src/mm/index.js';
import { codeOf, type FakePageSource, machine, newMemory, pattern } from './mm-fixture.js';

/** The window the operations aim at: 24 pages at 1 GiB. */
const W = 0x4000_0000;
const NP = 24;
const WVPN = W / PAGE_SIZE;
const memory = newMemory();

type Prot = 'rw' | 'r' | 'none';
const PROTS: Record<Prot, { read: boolean; write: boolean }> = {
  rw: { read: true, write: true },
  r: { read: true, write: false },
  none: { read: false, write: false },
};

type Op =
  | { op: 'mmap'; page: number; n: number; prot: Prot; fixed: boolean }
  | { op: 'munmap'; page: number; n: number }
  | { op: 'mprotect'; page: number; n: number; prot: Prot }
  | { op: 'write'; off: number; len: number; seed: number }
  | { op: 'read'; off: number; len: number };

const page = fc.integer({ min: 0, max: NP - 1 });
const count = fc.integer({ min: 1, max: 6 });
const prot = fc.constantFrom<Prot>('rw', 'rw', 'r', 'none');
const off = fc.integer({ min: 0, max: NP * PAGE_SIZE - 1 });
const len = fc.integer({ min: 1, max: 2 * PAGE_SIZE + 10 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({ op: fc.constant('mmap' as const), page, n: count, prot, fixed: fc.boolean() }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant('munmap' as const), page, n: count }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('mprotect' as const), page, n: count, prot }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('write' as const), off, len, seed: fc.nat(255) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('read' as const), off, len }), weight: 3 },
);

/** The model: each mapped virtual page's protection and, once written, its bytes. */
interface ModelPage {
  prot: Prot;
  data: Uint8Array | undefined;
}
type Model = Map<number, ModelPage>;

const vpnsOf = (va: number, length: number): number[] => {
  const first = Math.floor(va / PAGE_SIZE);
  return Array.from({ length: Math.ceil((va + length) / PAGE_SIZE) - first }, (_, i) => first + i);
};

const modelRead = (model: Model, va: number, n: number): Uint8Array => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = va + i;
    const data = model.get(Math.floor(a / PAGE_SIZE))?.data;
    out[i] = data === undefined ? 0 : (data[a % PAGE_SIZE] as number);
  }
  return out;
};

const modelWrite = (model: Model, va: number, src: Uint8Array): void => {
  for (let i = 0; i < src.length; i++) {
    const a = va + i;
    const p = model.get(Math.floor(a / PAGE_SIZE)) as ModelPage;
    p.data ??= new Uint8Array(PAGE_SIZE);
    p.data[a % PAGE_SIZE] = src[i] as number;
  }
};

/** Applies one operation to the mm and checks its outcome against the model, which it updates. */
const step = (mm: Mm, model: Model, op: Op): void => {
  switch (op.op) {
    case 'mmap': {
      const hint = W + op.page * PAGE_SIZE;
      const r = mm.mmap({ length: op.n * PAGE_SIZE, addr: hint, fixed: op.fixed, prot: PROTS[op.prot] });
      const va = unwrap(r);
      const vpns = vpnsOf(va, op.n * PAGE_SIZE);
      const hintFree = vpnsOf(hint, op.n * PAGE_SIZE).every((v) => !model.has(v));
      if (op.fixed || hintFree) expect(va).toBe(hint);
      else expect(vpns.some((v) => model.has(v))).toBe(false);
      for (const v of vpns) model.set(v, { prot: op.prot, data: undefined });
      return;
    }
    case 'munmap': {
      unwrap(mm.munmap(W + op.page * PAGE_SIZE, op.n * PAGE_SIZE));
      for (const v of vpnsOf(W + op.page * PAGE_SIZE, op.n * PAGE_SIZE)) model.delete(v);
      return;
    }
    case 'mprotect': {
      const vpns = vpnsOf(W + op.page * PAGE_SIZE, op.n * PAGE_SIZE);
      const r = mm.mprotect(W + op.page * PAGE_SIZE, op.n * PAGE_SIZE, PROTS[op.prot]);
      const covered = vpns.every((v) => model.has(v));
      expect(codeOf(r)).toBe(covered ? 'ok' : 'ENOMEM');
      if (covered) for (const v of vpns) (model.get(v) as ModelPage).prot = op.prot;
      return;
    }
    case 'write': {
      const src = pattern(op.len, op.seed);
      const r = mm.write(W + op.off, src, 0, op.len);
      const allowed = vpnsOf(W + op.off, op.len).every((v) => model.get(v)?.prot === 'rw');
      if (!allowed) expect(codeOf(r)).toBe('EFAULT');
      else expect(['ok', 'ENOMEM']).toContain(codeOf(r));
      if (E.isRight(r)) modelWrite(model, W + op.off, src);
      return;
    }
    case 'read': {
      const dst = new Uint8Array(op.len);
      const r = mm.read(W + op.off, dst, 0, op.len);
      const allowed = vpnsOf(W + op.off, op.len).every((v) => {
        const p = model.get(v);
        return p !== undefined && p.prot !== 'none';
      });
      if (!allowed) expect(codeOf(r)).toBe('EFAULT');
      else expect(['ok', 'ENOMEM']).toContain(codeOf(r));
      if (E.isRight(r)) expect(Buffer.compare(dst, modelRead(model, W + op.off, op.len))).toBe(0);
      return;
    }
  }
};

/** VMAs are sorted, disjoint, page aligned, maximally merged, and cover exactly the model's pages. */
const checkInvariants = (mm: Mm, model: Model, pages: FakePageSource): void => {
  const vmas = mm.vmas();
  const covered = new Map<number, Prot>();
  const broken: string[] = [];
  vmas.forEach((v, i) => {
    if (v.start % PAGE_SIZE !== 0 || v.end % PAGE_SIZE !== 0 || v.start >= v.end) broken.push(`bad vma ${i}`);
    const prev = vmas[i - 1];
    if (prev !== undefined && prev.end > v.start) broken.push(`vmas ${i - 1} and ${i} overlap`);
    if (prev !== undefined && prev.end === v.start && prev.flags === v.flags)
      broken.push(`vmas ${i - 1}, ${i} unmerged`);
    const p: Prot = v.prot.write ? 'rw' : v.prot.read ? 'r' : 'none';
    for (let a = v.start; a < v.end; a += PAGE_SIZE) covered.set(a / PAGE_SIZE, p);
  });
  if (covered.size !== model.size) broken.push(`vmas cover ${covered.size} pages, model has ${model.size}`);
  for (const [vpn, p] of model) if (covered.get(vpn) !== p.prot) broken.push(`vpn ${vpn} is not ${p.prot}`);
  if (pages.allocated !== mm.stats.rss)
    broken.push(`${pages.allocated} pages allocated, rss ${mm.stats.rss}`);
  expect(broken).toEqual([]);
};

describe('mm properties', () => {
  fcTest.prop([fc.array(opArb, { minLength: 10, maxLength: 40, size: 'max' })], { numRuns: 100 })(
    'random mmap/munmap/mprotect/write/read sequences agree with a model of the address space (mm/mmap.c, mm/memory.c)',
    (ops) => {
      const { table, pages } = machine({ pages: 10, memory });
      const { mm } = table.spawn('fuzz');
      const model: Model = new Map();
      step(mm, model, { op: 'mmap', page: 0, n: NP, prot: 'rw', fixed: true });
      for (const op of ops) {
        step(mm, model, op);
        checkInvariants(mm, model, pages);
      }
    },
  );

  type PinOp =
    | { op: 'map'; page: number; n: number }
    | { op: 'unmap'; page: number; n: number }
    | { op: 'pin'; page: number; n: number; write: boolean }
    | { op: 'unpin'; which: number };
  const pinOpArb: fc.Arbitrary<PinOp> = fc.oneof(
    fc.record({ op: fc.constant('map' as const), page, n: count }),
    fc.record({ op: fc.constant('unmap' as const), page, n: count }),
    fc.record({ op: fc.constant('pin' as const), page, n: count, write: fc.boolean() }),
    fc.record({ op: fc.constant('pin' as const), page, n: count, write: fc.boolean() }),
    fc.record({ op: fc.constant('unpin' as const), which: fc.nat() }),
  );

  /** Every page's counts are exactly its mapping reference plus its outstanding pins. */
  const checkBalance = (mm: Mm, pages: FakePageSource, batches: readonly number[][]): void => {
    const pins = new Map<number, number>();
    for (const b of batches) for (const pfn of b) pins.set(pfn, (pins.get(pfn) ?? 0) + 1);
    const mapped = new Set<number>();
    for (let v = WVPN; v < WVPN + NP + 6; v++) {
      const pfn = mm.lookup(v * PAGE_SIZE);
      if (pfn >= 0) mapped.add(pfn);
    }
    for (const pfn of pages.allocatedPfns()) {
      expect(pages.pincount(pfn)).toBe(pins.get(pfn) ?? 0);
      expect(pages.refcount(pfn)).toBe((mapped.has(pfn) ? 1 : 0) + (pins.get(pfn) ?? 0));
    }
    for (const pfn of pins.keys()) expect(pages.refcount(pfn)).toBeGreaterThan(0);
    expect(mm.stats.pinnedPages).toBe(batches.reduce((n, b) => n + b.length, 0));
  };

  fcTest.prop([fc.array(pinOpArb, { minLength: 10, maxLength: 40, size: 'max' })], { numRuns: 100 })(
    'pins and unpins balance: no page is freed while pinned, none leaks once all pins are dropped (mm/gup.c)',
    (ops) => {
      const { table, pages } = machine({ memory });
      const proc = table.spawn('pinner');
      const { mm } = proc;
      const batches: number[][] = [];
      for (const op of ops) {
        if (op.op === 'map') {
          unwrap(
            mm.mmap({ length: op.n * PAGE_SIZE, addr: W + op.page * PAGE_SIZE, fixed: true, prot: PROTS.rw }),
          );
        } else if (op.op === 'unmap') {
          unwrap(mm.munmap(W + op.page * PAGE_SIZE, op.n * PAGE_SIZE));
        } else if (op.op === 'pin') {
          const r = mm.pinUserPages(W + op.page * PAGE_SIZE, op.n, op.write);
          const mappedAll = vpnsOf(W + op.page * PAGE_SIZE, op.n * PAGE_SIZE).every((v) =>
            mm.findVma(v * PAGE_SIZE),
          );
          expect(codeOf(r)).toBe(mappedAll ? 'ok' : 'EFAULT');
          if (E.isRight(r)) batches.push(r.right);
        } else if (batches.length > 0) {
          const [batch] = batches.splice(op.which % batches.length, 1) as [number[]];
          unwrap(mm.unpinUserPages(batch));
        }
        checkBalance(mm, pages, batches);
      }
      proc.exit();
      expect(pages.allocated).toBe(new Set(batches.flat()).size);
      for (const b of batches) unwrap(mm.unpinUserPages(b));
      expect(pages.allocated).toBe(0);
    },
  );
});
