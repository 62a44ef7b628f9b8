import { SimClock, TraceRecorder } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  type DmaFenceOps,
  dmaFenceIsLater,
  dmaFenceIsLaterOrSame,
  dmaFenceLater,
  dmaFenceWaitTimeout,
  FenceDomain,
  seqnoIsLater,
} from '../src/fence/index.js';

const mockOps: DmaFenceOps = { getDriverName: () => 'mock', getTimelineName: () => 'mock' };

const setup = () => {
  const clock = new SimClock();
  const domain = new FenceDomain(clock);
  const mock = (context = 0, seqno = 0, seqno64 = false) =>
    new DmaFence(domain, mockOps, context, seqno, { seqno64 });
  return { clock, domain, mock };
};

describe('dma_fence self-tests (drivers/dma-buf/st-dma-fence.c)', () => {
  it('test_sanitycheck: a fence can be created, enabled, signaled and put', () => {
    const { mock } = setup();
    const f = mock();
    f.enableSwSignaling();
    expect(E.isRight(f.signal())).toBe(true);
    f.put();
    expect(f.refcount).toBe(0);
  });

  it('test_signaling: a fence is unsignaled on creation and signaled after dma_fence_signal', () => {
    const { mock } = setup();
    const f = mock();
    f.enableSwSignaling();
    expect(f.isSignaled()).toBe(false);
    expect(E.isRight(f.signal())).toBe(true);
    expect(f.isSignaled()).toBe(true);
    expect(f.testSignaledFlag()).toBe(true);
    f.put();
  });

  it('test_add_callback: a callback added before signal runs on signal', () => {
    const { mock } = setup();
    const f = mock();
    let seen = false;
    expect(E.isRight(f.addCallback(() => (seen = true)))).toBe(true);
    f.signal();
    expect(seen).toBe(true);
    f.put();
  });

  it('test_late_add_callback: adding to a signaled fence fails with ENOENT and never runs', () => {
    const { mock } = setup();
    const f = mock();
    f.enableSwSignaling();
    f.signal();
    let seen = false;
    const r = f.addCallback(() => (seen = true));
    expect(E.isLeft(r) && r.left.code).toBe('ENOENT');
    f.signal();
    expect(seen).toBe(false);
    f.put();
  });

  it('test_rm_callback: a removed callback does not run', () => {
    const { mock } = setup();
    const f = mock();
    let seen = false;
    const cb = f.addCallback(() => (seen = true));
    expect(E.isRight(cb) && f.removeCallback(cb.right)).toBe(true);
    f.signal();
    expect(seen).toBe(false);
    f.put();
  });

  it('test_late_rm_callback: removing a callback that already ran returns false', () => {
    const { mock } = setup();
    const f = mock();
    let seen = false;
    const cb = f.addCallback(() => (seen = true));
    f.signal();
    expect(seen).toBe(true);
    expect(E.isRight(cb) && f.removeCallback(cb.right)).toBe(false);
    f.put();
  });

  it('test_status: status is 0 before and non-zero after signal', () => {
    const { mock } = setup();
    const f = mock();
    f.enableSwSignaling();
    expect(f.getStatus()).toBe(0);
    f.signal();
    expect(f.getStatus()).toBe(1);
    f.put();
  });

  it('test_error: an error set before signal is reported only once signaled', () => {
    const { mock } = setup();
    const f = mock();
    f.enableSwSignaling();
    f.setError('EIO');
    expect(f.getStatus()).toBe(0);
    f.signal();
    expect(f.getStatus()).toBe(-5);
    f.put();
  });

  it('test_wait: a zero-timeout wait reports 0 before signal and 1 after', () => {
    const { mock } = setup();
    const f = mock();
    f.enableSwSignaling();
    expect(dmaFenceWaitTimeout(f, 0)).toBe(0);
    f.signal();
    expect(dmaFenceWaitTimeout(f, 0)).toBe(1);
    f.put();
  });

  it('test_wait_timeout: a wait times out without a signal and succeeds when a timer signals', () => {
    const { clock, mock } = setup();
    const f = mock();
    f.enableSwSignaling();
    expect(dmaFenceWaitTimeout(f, 1)).toBe(0);
    clock.at(clock.now() + 1, () => f.signal());
    expect(dmaFenceWaitTimeout(f, 1_000_000)).toBeGreaterThan(0);
    f.put();
  });

  it('test_stub: every stub fence is signaled', () => {
    const { domain } = setup();
    const stubs = Array.from({ length: 64 }, () => domain.getStub());
    expect(stubs.every((f) => f.isSignaled())).toBe(true);
    for (const f of stubs) f.put();
    expect(domain.getStub().refcount).toBe(2);
  });
});

describe('dma_fence rules (drivers/dma-buf/dma-fence.c)', () => {
  it('signaling twice returns EINVAL and keeps the first timestamp (dma_fence_signal)', () => {
    const { clock, mock } = setup();
    const f = mock();
    clock.advance(100);
    f.signal();
    clock.advance(50);
    const again = f.signal();
    expect(E.isLeft(again) && again.left.code).toBe('EINVAL');
    expect(f.timestamp).toBe(100);
  });

  it('setting an error after signal is a bug and throws (dma_fence_set_error WARN_ON)', () => {
    const { mock } = setup();
    const f = mock();
    f.signal();
    expect(() => f.setError('EIO')).toThrow(/already signaled/);
    expect(f.getStatus()).toBe(1);
  });

  it('callbacks run once, in registration order, and a callback removed by an earlier one is skipped', () => {
    const { mock } = setup();
    const f = mock();
    const ran: number[] = [];
    const first = f.addCallback(() => {
      ran.push(1);
      if (E.isRight(third)) expect(f.removeCallback(third.right)).toBe(true);
    });
    f.addCallback(() => ran.push(2));
    const third = f.addCallback(() => ran.push(3));
    expect(E.isRight(first)).toBe(true);
    f.signal();
    f.signal();
    expect(ran).toEqual([1, 2]);
  });

  it('enable_signaling runs once, on the first callback; returning false signals the fence (dma_fence_add_callback)', () => {
    const { domain } = setup();
    let calls = 0;
    const ready = new DmaFence(domain, { ...mockOps, enableSignaling: () => ++calls > 0 }, 1, 1);
    ready.addCallback(() => {});
    ready.addCallback(() => {});
    expect(calls).toBe(1);
    const passed = new DmaFence(domain, { ...mockOps, enableSignaling: () => false }, 1, 2);
    const r = passed.addCallback(() => {});
    expect(E.isLeft(r) && r.left.code).toBe('ENOENT');
    expect(passed.testSignaledFlag()).toBe(true);
  });

  it('the signaled() poll completes the fence at the time it is observed (dma_fence_is_signaled)', () => {
    const { clock, domain } = setup();
    let hw = false;
    const f = new DmaFence(domain, { ...mockOps, signaled: () => hw }, 1, 1);
    clock.advance(10);
    expect(f.isSignaled()).toBe(false);
    hw = true;
    clock.advance(5);
    expect(f.testSignaledFlag()).toBe(false);
    expect(f.isSignaled()).toBe(true);
    expect(f.timestamp).toBe(15);
  });

  it('a fence is freed at its last put, runs release, and any later use throws (kref)', () => {
    const { domain } = setup();
    let released = 0;
    const f = new DmaFence(domain, { ...mockOps, release: () => released++ }, 1, 1);
    f.get();
    f.put();
    expect(released).toBe(0);
    f.put();
    expect(released).toBe(1);
    expect(() => f.get()).toThrow(/after its last dma_fence_put/);
    expect(() => f.put()).toThrow(/after its last dma_fence_put/);
    expect(() => f.signal()).toThrow(/after its last dma_fence_put/);
    expect(() => f.isSignaled()).toThrow(/after its last dma_fence_put/);
  });

  it('releasing an unsignaled fence with pending callbacks throws (dma_fence_release WARN)', () => {
    const { mock } = setup();
    const f = mock();
    f.addCallback(() => {});
    expect(() => f.put()).toThrow(/pending signals/);
  });

  it('32-bit seqnos compare modulo 2^32 and 64-bit ones plainly (__dma_fence_is_later)', () => {
    expect(seqnoIsLater(2, 1, false)).toBe(true);
    expect(seqnoIsLater(1, 2, false)).toBe(false);
    expect(seqnoIsLater(1, 1, false)).toBe(false);
    expect(seqnoIsLater(0, 0xffff_ffff, false)).toBe(true);
    expect(seqnoIsLater(0x8000_0000, 0, false)).toBe(false);
    expect(seqnoIsLater(0x7fff_ffff, 0, false)).toBe(true);
    expect(seqnoIsLater(2 ** 32 + 1, 2, false)).toBe(false);
    expect(seqnoIsLater(0, 0xffff_ffff, true)).toBe(false);
    expect(seqnoIsLater(2 ** 40, 2 ** 33, true)).toBe(true);
  });

  it('is_later uses the first fence width, later_or_same accepts the fence itself, later() skips signaled', () => {
    const { mock } = setup();
    const a = mock(5, 0xffff_fff0);
    const b = mock(5, 3);
    expect(dmaFenceIsLater(b, a)).toBe(true);
    expect(dmaFenceIsLaterOrSame(a, a)).toBe(true);
    expect(dmaFenceLater(a, b)).toBe(b);
    b.signal();
    expect(dmaFenceLater(a, b)).toBe(null);
    const wide = mock(5, 3, true);
    expect(dmaFenceIsLater(wide, a)).toBe(false);
  });

  it('comparing fences of different contexts is a bug and throws (dma_fence_is_later WARN_ON)', () => {
    const { mock } = setup();
    expect(() => dmaFenceIsLater(mock(1, 2), mock(2, 1))).toThrow(/different contexts/);
  });

  it('contexts are allocated consecutively from 1, per domain (dma_fence_context_alloc)', () => {
    const a = new FenceDomain(new SimClock());
    const b = new FenceDomain(new SimClock());
    expect(a.contextAlloc(1)).toBe(1);
    expect(a.contextAlloc(3)).toBe(2);
    expect(a.contextAlloc(1)).toBe(5);
    expect(b.contextAlloc(1)).toBe(1);
    expect(() => a.contextAlloc(0)).toThrow(RangeError);
  });

  it('a private stub is its own fence, signaled at the given time (dma_fence_allocate_private_stub)', () => {
    const { domain } = setup();
    const stub = domain.allocatePrivateStub(1234);
    expect(stub.isSignaled()).toBe(true);
    expect(stub.timestamp).toBe(1234);
    expect(stub).not.toBe(domain.getStub());
    expect(stub.context).toBe(0);
  });

  it('a fence signal event carries context, seqno, error and time as plain JSON', () => {
    const { clock, domain, mock } = setup();
    const recorder = new TraceRecorder(clock).record(domain.bus);
    const f = mock(7, 42);
    f.setError('ETIMEDOUT');
    f.addCallback(() => {});
    clock.advance(250);
    f.signal();
    const signaled = recorder.filter('dma-fence', 'fence-signaled');
    expect(signaled.map((e) => e.payload)).toEqual([
      { fence: f.id, context: 7, seqno: 42, error: 'ETIMEDOUT', time: 250 },
    ]);
    expect(recorder.filter('dma-fence', 'fence-callback')).toHaveLength(1);
    expect(recorder.trace.map((e) => e.type)).toEqual([
      'fence-init',
      'fence-set-error',
      'fence-enable-signaling',
      'fence-signaled',
      'fence-callback',
    ]);
  });
});
