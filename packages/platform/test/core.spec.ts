import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  alignUp,
  dmaBitMask,
  ERRNO,
  EventBus,
  fail,
  formatMask,
  ilog2,
  maskCovers,
  maskLimit,
  Rng,
  SimClock,
  TraceRecorder,
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

describe('trace', () => {
  it('records events from every bus in one ordered trace that serialises to JSON lines', () => {
    const clock = new SimClock();
    const a = new EventBus<{ ping: { n: number } }>('a');
    const b = new EventBus<{ pong: { n: number } }>('b');
    const rec = new TraceRecorder(clock).record(a).record(b);
    a.emit('ping', { n: 1 });
    clock.advance(5);
    b.emit('pong', { n: 2 });
    expect(
      rec
        .toJsonLines()
        .split('\n')
        .map((l: string) => JSON.parse(l) as unknown),
    ).toEqual([
      { seq: 0, time: 0, source: 'a', type: 'ping', payload: { n: 1 } },
      { seq: 1, time: 5, source: 'b', type: 'pong', payload: { n: 2 } },
    ]);
    rec.stop();
    a.emit('ping', { n: 3 });
    expect(rec.trace).toHaveLength(2);
  });
});
