import { SimClock } from '@sharedbuf/platform';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  DmaFenceArray,
  type DmaFenceOps,
  dmaFenceWaitTimeout,
  FenceDomain,
} from '../src/fence/index.js';

const mockOps: DmaFenceOps = { getDriverName: () => 'mock', getTimelineName: () => 'mock' };

const setup = () => {
  const clock = new SimClock();
  const domain = new FenceDomain(clock);
  const mocks = (n: number) => Array.from({ length: n }, (_, i) => new DmaFence(domain, mockOps, 1, i + 1));
  // The array takes over one reference per fence: hand it extra ones so the test keeps its own.
  const array = (fences: DmaFence[], signalOnAny: boolean) =>
    new DmaFenceArray(
      domain,
      fences.map((f) => f.get()),
      domain.contextAlloc(1),
      1,
      signalOnAny,
    );
  return { clock, domain, mocks, array };
};

describe('dma_fence_array rules (drivers/dma-buf/dma-fence-array.c)', () => {
  it('an array signals when all its fences signaled', () => {
    const { mocks, array } = setup();
    const fences = mocks(3);
    const a = array(fences, false);
    let done = false;
    a.addCallback(() => (done = true));
    fences[0]?.signal();
    fences[2]?.signal();
    expect(done).toBe(false);
    fences[1]?.signal();
    expect(done).toBe(true);
  });

  it('a signal-on-any array signals with the first fence', () => {
    const { mocks, array } = setup();
    const fences = mocks(3);
    const a = array(fences, true);
    a.enableSwSignaling();
    fences[1]?.signal();
    expect(a.testSignaledFlag()).toBe(true);
    fences[0]?.signal();
    fences[2]?.signal();
    expect(a.getStatus()).toBe(1);
  });

  it('the array completes with the first error a fence reports before it signals', () => {
    const { mocks, array } = setup();
    const fences = mocks(3);
    const a = array(fences, false);
    a.enableSwSignaling();
    fences[0]?.signal();
    fences[1]?.setError('EIO');
    fences[1]?.signal();
    fences[2]?.setError('ECANCELED');
    fences[2]?.signal();
    expect(a.getStatus()).toBe(-5);
  });

  it('without enabled signaling, polling counts signaled fences and takes their first error', () => {
    const { mocks, array } = setup();
    const fences = mocks(2);
    const a = array(fences, false);
    fences[1]?.setError('ECANCELED');
    fences[1]?.signal();
    expect(a.isSignaled()).toBe(false);
    expect(a.signalingEnabled).toBe(false);
    fences[0]?.signal();
    expect(a.isSignaled()).toBe(true);
    expect(a.errorName).toBe('ECANCELED');
  });

  it('an array of fences that all signaled already signals when signaling is enabled', () => {
    const { mocks, array } = setup();
    const fences = mocks(2);
    for (const f of fences) f.signal();
    const a = array(fences, false);
    expect(a.enableSwSignaling()).toBe(false);
    expect(a.testSignaledFlag()).toBe(true);
  });

  it('a wait on an array ends when the last fence signals on the clock', () => {
    const { clock, mocks, array } = setup();
    const fences = mocks(3);
    fences.forEach((f, i) => {
      clock.at(100 * (i + 1), () => f.signal());
    });
    expect(dmaFenceWaitTimeout(array(fences, false), 1000)).toBe(700);
  });

  it('releasing the array drops its references to the fences; the callbacks keep it alive until then', () => {
    const { mocks, array } = setup();
    const fences = mocks(2);
    const a = array(fences, true);
    a.enableSwSignaling();
    fences[0]?.signal();
    a.put();
    expect(a.refcount).toBe(1);
    fences[1]?.signal();
    expect(a.refcount).toBe(0);
    expect(fences.map((f) => f.refcount)).toEqual([1, 1]);
  });

  it('an empty array is a bug and throws (dma_fence_array_create WARN_ON)', () => {
    const { domain } = setup();
    expect(() => new DmaFenceArray(domain, [], 1, 1, false)).toThrow(RangeError);
  });
});
