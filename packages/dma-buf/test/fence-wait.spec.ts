import { fc, test as fcTest } from '@fast-check/vitest';
import { SimClock, TraceRecorder } from '@sharedbuf/platform';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  type DmaFenceOps,
  dmaFenceWait,
  dmaFenceWaitAnyTimeout,
  dmaFenceWaitTimeout,
  FenceDomain,
} from '../src/fence/index.js';

const mockOps: DmaFenceOps = { getDriverName: () => 'mock', getTimelineName: () => 'mock' };

const setup = () => {
  const clock = new SimClock();
  const domain = new FenceDomain(clock);
  const mock = (seqno = 0) => new DmaFence(domain, mockOps, 1, seqno);
  return { clock, domain, mock };
};

describe('waiting on the simulated clock (drivers/dma-buf/dma-fence.c, dma_fence_wait_timeout)', () => {
  it('a wait stops when a device timer signals the fence and returns the time left', () => {
    const { clock, mock } = setup();
    const f = mock();
    clock.at(300, () => f.signal());
    clock.at(900, () => {});
    expect(dmaFenceWaitTimeout(f, 1000)).toBe(700);
    expect(clock.now()).toBe(300);
    expect(clock.pendingTimers()).toBe(1);
  });

  it('a wait with nothing due by the deadline jumps to the deadline and returns 0', () => {
    const { clock, mock } = setup();
    const f = mock();
    clock.at(5000, () => f.signal());
    expect(dmaFenceWaitTimeout(f, 1000)).toBe(0);
    expect(clock.now()).toBe(1000);
    expect(f.testSignaledFlag()).toBe(false);
    expect(clock.pendingTimers()).toBe(1);
  });

  it('a fence no timer can signal times out at the deadline instead of looping', () => {
    const { clock, mock } = setup();
    expect(dmaFenceWaitTimeout(mock(), 1000)).toBe(0);
    expect(clock.now()).toBe(1000);
  });

  it('a fence signaled exactly at the deadline counts as signaled: at least 1 is returned', () => {
    const { clock, mock } = setup();
    const f = mock();
    clock.at(1000, () => f.signal());
    expect(dmaFenceWaitTimeout(f, 1000)).toBe(1);
    expect(clock.now()).toBe(1000);
  });

  it('an already signaled fence returns the whole timeout without moving the clock', () => {
    const { clock, mock } = setup();
    const f = mock();
    f.signal();
    expect(dmaFenceWaitTimeout(f, 1000)).toBe(1000);
    expect(clock.now()).toBe(0);
  });

  it('timers already past due fire during the wait', () => {
    const { clock, mock } = setup();
    const f = mock();
    clock.advance(100);
    clock.at(50, () => f.signal());
    expect(dmaFenceWaitTimeout(f, 10)).toBe(10);
    expect(clock.now()).toBe(100);
  });

  it('an endless wait that nothing can end throws instead of hanging', () => {
    const { clock, mock } = setup();
    expect(() => dmaFenceWait(mock())).toThrow(/waiting forever/);
    const f = mock();
    clock.at(7, () => f.signal());
    dmaFenceWait(f);
    expect(clock.now()).toBe(7);
  });

  it('a negative timeout is a bug and throws (dma_fence_wait_timeout WARN_ON)', () => {
    const { mock } = setup();
    expect(() => dmaFenceWaitTimeout(mock(), -1)).toThrow(RangeError);
  });

  it('waiting enables signaling, so the driver learns someone waits', () => {
    const { domain } = setup();
    let enabled = 0;
    const f = new DmaFence(domain, { ...mockOps, enableSignaling: () => ++enabled > 0 }, 1, 1);
    dmaFenceWaitTimeout(f, 10);
    expect(enabled).toBe(1);
  });

  it('a polled fence is seen as soon as a timer makes the poll true', () => {
    const { clock, domain } = setup();
    let seqnoReg = 0;
    const f = new DmaFence(domain, { ...mockOps, signaled: () => seqnoReg >= 3 }, 1, 3);
    for (const t of [100, 200, 300]) clock.at(t, () => seqnoReg++);
    expect(dmaFenceWaitTimeout(f, 1000)).toBe(700);
    expect(f.timestamp).toBe(300);
  });

  it('a wait is one fence-wait event from start to end', () => {
    const { clock, domain, mock } = setup();
    const recorder = new TraceRecorder(clock).record(domain.bus);
    const f = mock(9);
    clock.at(40, () => f.signal());
    dmaFenceWaitTimeout(f, 100);
    expect(recorder.filter('dma-fence', 'fence-wait').map((e) => e.payload)).toEqual([
      { fence: f.id, context: 1, seqno: 9, start: 0, end: 40, signaled: true },
    ]);
  });
});

describe('waiting for any fence (drivers/dma-buf/dma-fence.c, dma_fence_wait_any_timeout)', () => {
  it('returns the index of the first fence to signal and the time left', () => {
    const { clock, mock } = setup();
    const fences = [mock(1), mock(2), mock(3)];
    clock.at(200, () => fences[2]?.signal());
    clock.at(300, () => fences[0]?.signal());
    expect(dmaFenceWaitAnyTimeout(fences, 1000)).toEqual({ remaining: 800, index: 2 });
    expect(clock.now()).toBe(200);
  });

  it('an already signaled fence ends the wait at once with the whole timeout', () => {
    const { mock } = setup();
    const fences = [mock(1), mock(2)];
    fences[1]?.signal();
    expect(dmaFenceWaitAnyTimeout(fences, 1000)).toEqual({ remaining: 1000, index: 1 });
  });

  it('a zero timeout only polls: 1 and the index, or 0', () => {
    const { mock } = setup();
    const fences = [mock(1), mock(2)];
    expect(dmaFenceWaitAnyTimeout(fences, 0)).toEqual({ remaining: 0, index: null });
    fences[1]?.signal();
    expect(dmaFenceWaitAnyTimeout(fences, 0)).toEqual({ remaining: 1, index: 1 });
  });

  it('times out at the deadline with no index', () => {
    const { clock, mock } = setup();
    expect(dmaFenceWaitAnyTimeout([mock(1), mock(2)], 500)).toEqual({ remaining: 0, index: null });
    expect(clock.now()).toBe(500);
  });

  it('an empty list is a bug and throws (WARN_ON(!count))', () => {
    expect(() => dmaFenceWaitAnyTimeout([], 10)).toThrow(RangeError);
  });
});

const isPending = (f: DmaFence): boolean => !f.testSignaledFlag();

describe('wait properties', () => {
  const timers = fc.array(fc.record({ at: fc.integer({ min: 0, max: 2000 }), signals: fc.boolean() }), {
    maxLength: 12,
  });

  fcTest.prop([timers, fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 0, max: 500 })])(
    'a wait never moves the clock past its deadline, and ends at the signal or the deadline',
    (schedule, timeout, startAt) => {
      const { clock, mock } = setup();
      clock.advance(startAt);
      const f = mock();
      const signalTimes: number[] = [];
      for (const t of schedule) {
        clock.at(t.at, (now) => {
          if (t.signals && isPending(f)) {
            f.signal();
            signalTimes.push(now);
          }
        });
      }
      const deadline = startAt + timeout;
      const result = dmaFenceWaitTimeout(f, timeout);
      expect(clock.now()).toBeLessThanOrEqual(deadline);
      const firstSignal = schedule
        .filter((t) => t.signals)
        .map((t) => Math.max(t.at, startAt))
        .reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
      if (timeout === 0) {
        // A zero timeout only polls: no timer fires.
        expect(result).toBe(0);
        expect(clock.now()).toBe(startAt);
      } else if (firstSignal <= deadline) {
        expect(result).toBe(Math.max(1, deadline - firstSignal));
        expect(clock.now()).toBe(firstSignal);
      } else {
        expect(result).toBe(0);
        expect(clock.now()).toBe(deadline);
      }
    },
  );
});
