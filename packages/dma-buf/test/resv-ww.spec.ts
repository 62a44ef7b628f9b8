import { SimClock } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { FenceDomain } from '../src/fence/index.js';
import { DmaResv, WwClass } from '../src/resv/index.js';

const setup = () => {
  const domain = new FenceDomain(new SimClock());
  const ww = domain.reservationWwClass;
  return { domain, ww, a: new DmaResv(domain, 'a'), b: new DmaResv(domain, 'b') };
};

const code = (r: ReturnType<DmaResv['lock']>) => (E.isLeft(r) ? r.left.code : 'ok');

describe('reservation locking (include/linux/dma-resv.h, kernel/locking/ww_mutex.h)', () => {
  it('a context younger than the holder dies with EDEADLK when it already holds locks (wait-die)', () => {
    const { ww, a, b } = setup();
    const older = ww.acquireInit();
    const younger = ww.acquireInit();
    expect(code(a.lock(older))).toBe('ok');
    expect(code(b.lock(younger))).toBe('ok');
    expect(code(a.lock(younger))).toBe('EDEADLK');
    expect(code(b.lock(older))).toBe('EBUSY');
    expect(a.lockingCtx()).toBe(older);
  });

  it('after EDEADLK the younger context drops its locks and retries with lock_slow', () => {
    const { ww, a, b } = setup();
    const older = ww.acquireInit();
    const younger = ww.acquireInit();
    a.lock(older);
    b.lock(younger);
    expect(code(a.lock(younger))).toBe('EDEADLK');
    expect(() => a.lockSlow(younger)).toThrow(/drop/);
    b.unlock();
    expect(code(a.lockSlow(younger))).toBe('EBUSY');
    a.unlock();
    expect(code(a.lockSlow(younger))).toBe('ok');
    expect(code(b.lock(younger))).toBe('ok');
    expect(younger.acquired).toBe(2);
  });

  it('a context holding nothing never dies: where Linux sleeps the model returns EBUSY', () => {
    const { ww, a } = setup();
    const older = ww.acquireInit();
    const younger = ww.acquireInit();
    a.lock(older);
    expect(code(a.lock(younger))).toBe('EBUSY');
    expect(code(a.lock())).toBe('EBUSY');
  });

  it('locking twice with the same context is a bug here (Linux returns -EALREADY)', () => {
    const { ww, a } = setup();
    const ctx = ww.acquireInit();
    a.lock(ctx);
    expect(() => a.lock(ctx)).toThrow(/EALREADY/);
  });

  it('trylock takes a free lock only, with no context', () => {
    const { a } = setup();
    expect(a.trylock()).toBe(true);
    expect(a.trylock()).toBe(false);
    expect(a.lockingCtx()).toBe(null);
    a.unlock();
    expect(a.isLocked()).toBe(false);
  });

  it('a context that still holds locks cannot be finished, and one marked done cannot lock', () => {
    const { ww, a, b } = setup();
    const ctx = ww.acquireInit();
    a.lock(ctx);
    ctx.acquireDone();
    expect(() => b.lock(ctx)).toThrow(/done/);
    expect(() => ctx.fini()).toThrow(/still holds/);
    a.unlock();
    ctx.fini();
  });

  it('a context of another class cannot lock a reservation object', () => {
    const { a } = setup();
    const foreign = new WwClass('other_class').acquireInit();
    expect(() => a.lock(foreign)).toThrow(/class/);
  });

  it('two domains hand out stamps independently', () => {
    const x = setup().ww.acquireInit();
    const y = setup().ww.acquireInit();
    expect([x.stamp, y.stamp]).toEqual([1, 1]);
  });
});
