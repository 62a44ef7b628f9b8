import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  alignUp,
  dmaBitMask,
  ERRNO,
  fail,
  formatMask,
  ilog2,
  maskCovers,
  maskLimit,
  Rng,
  SimClock,
} from '../src/index.js';

describe('core', () => {
  it('kernel errors carry the Linux errno number (include/uapi/asm-generic/errno-base.h)', () => {
    const r = fail('ENOMEM', 'out of pages', { order: 3 });
    expect(E.isLeft(r) && r.left.errno).toBe(12);
    expect(ERRNO.EBUSY).toBe(16);
  });

  it('xorshift32 follows the exact step x^=x<<13; x^=x>>>17; x^=x<<5', () => {
    const rng = new Rng(1);
    expect(rng.nextU32()).toBe(270369);
    expect(rng.nextU32()).toBe(67634689);
  });

  it('DMA_BIT_MASK(64) is exact, not truncated (include/linux/dma-mapping.h)', () => {
    expect(formatMask(dmaBitMask(64))).toBe('0xffffffffffffffff');
    expect(formatMask(dmaBitMask(32))).toBe('0xffffffff');
    expect(maskLimit(dmaBitMask(32))).toBe(0xffff_ffff);
    expect(maskCovers(dmaBitMask(32), 0xffff_f000, 0x1000)).toBe(true);
    expect(maskCovers(dmaBitMask(32), 0xffff_f000, 0x1001)).toBe(false);
    expect(maskCovers(dmaBitMask(64), 2 ** 51, 4096)).toBe(true);
  });

  it('address helpers are exact above 2^32', () => {
    expect(alignUp(2 ** 40 + 1, 4096)).toBe(2 ** 40 + 4096);
    expect(ilog2(2 ** 48)).toBe(48);
    expect(ilog2(2 ** 48 - 1)).toBe(47);
  });

  it('the simulated clock fires timers in deadline order', () => {
    const clock = new SimClock();
    const fired: string[] = [];
    clock.at(30, () => fired.push('b'));
    clock.at(10, () => fired.push('a'));
    clock.at(30, () => fired.push('c')).cancel();
    clock.advance(50);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(50);
  });
});
