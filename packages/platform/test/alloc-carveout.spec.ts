import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { Carveout, type MemoryEvents } from '../src/alloc/index.js';
import { EventBus, unwrap } from '../src/index.js';

const BASE = 0x9000_1000;
const carveout = (size = 64 * 4096, minAllocOrder?: number) => {
  const bus = new EventBus<MemoryEvents>('memory');
  const pool = new Carveout(
    { name: 'vpu', base: BASE, size },
    bus,
    minAllocOrder === undefined ? {} : { minAllocOrder },
  );
  return { bus, pool };
};
const codeOf = (r: E.Either<{ code: string }, unknown>) => (E.isLeft(r) ? r.left.code : 'ok');

describe('Carveout (gen_pool over a reserved region)', () => {
  it('allocations are first fit, in whole granules of 2^min_alloc_order bytes (lib/genalloc.c gen_pool_alloc_algo_owner)', () => {
    const { pool } = carveout();
    expect(unwrap(pool.alloc(100, 1))).toBe(BASE);
    expect(unwrap(pool.alloc(5000, 1))).toBe(BASE + 4096);
    expect(unwrap(pool.alloc(1, 1))).toBe(BASE + 3 * 4096);
    unwrap(pool.free(BASE, 100));
    expect(unwrap(pool.alloc(4096, 1))).toBe(BASE);
    expect(pool.availableBytes).toBe(60 * 4096);
  });

  it('alignment applies to the absolute address, not the offset in the pool (lib/genalloc.c gen_pool_first_fit_align)', () => {
    const { pool } = carveout();
    expect(unwrap(pool.alloc(4096, 0x10000))).toBe(0x9001_0000);
    expect(unwrap(pool.alloc(4096, 4096))).toBe(BASE);
  });

  it('a smaller granule packs smaller allocations (lib/genalloc.c min_alloc_order)', () => {
    const { pool } = carveout(4096, 8);
    expect(unwrap(pool.alloc(200, 1))).toBe(BASE);
    expect(unwrap(pool.alloc(300, 1))).toBe(BASE + 256);
    expect(pool.availableBytes).toBe(4096 - 3 * 256);
  });

  it('freeing what is not allocated is refused with EINVAL where genalloc would BUG (lib/genalloc.c gen_pool_free_owner)', () => {
    const { pool } = carveout();
    const addr = unwrap(pool.alloc(8192, 1));
    expect(codeOf(pool.free(addr + 8192, 4096))).toBe('EINVAL');
    expect(codeOf(pool.free(addr, 3 * 4096))).toBe('EINVAL');
    expect(codeOf(pool.free(addr + 1, 4096))).toBe('EINVAL');
    expect(codeOf(pool.free(BASE - 4096, 4096))).toBe('EINVAL');
    expect(codeOf(pool.free(BASE + 64 * 4096, 4096))).toBe('EINVAL');
    expect(pool.availableBytes).toBe(62 * 4096);
    unwrap(pool.free(addr + 4096, 4096));
    unwrap(pool.free(addr, 4096));
    expect(codeOf(pool.free(addr, 4096))).toBe('EINVAL');
  });

  it('ENOMEM when no aligned free range fits; bad sizes and alignments are EINVAL', () => {
    const { pool } = carveout(4 * 4096);
    unwrap(pool.alloc(4096, 1));
    const r = pool.alloc(4 * 4096, 1);
    expect(codeOf(r)).toBe('ENOMEM');
    expect(E.isLeft(r) && r.left.detail).toEqual({
      region: 'vpu',
      size: 4 * 4096,
      align: 1,
      availableBytes: 3 * 4096,
    });
    expect(codeOf(pool.alloc(0, 1))).toBe('EINVAL');
    expect(codeOf(pool.alloc(4096, 3))).toBe('EINVAL');
  });

  it('emits carveout-alloc and carveout-free with region, address and size', () => {
    const { bus, pool } = carveout();
    const seen: unknown[] = [];
    bus.on('carveout-alloc', (e) => seen.push(e));
    bus.on('carveout-free', (e) => seen.push(e));
    unwrap(pool.alloc(10, 1));
    unwrap(pool.free(BASE, 10));
    expect(seen).toEqual([
      { region: 'vpu', addr: BASE, size: 10 },
      { region: 'vpu', addr: BASE, size: 10 },
    ]);
  });
});
