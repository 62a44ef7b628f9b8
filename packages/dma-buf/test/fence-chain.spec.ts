import { Rng, SimClock } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  DmaFenceChain,
  type DmaFenceOps,
  dmaFenceChainFindSeqno,
  dmaFenceChainForEach,
  dmaFenceWaitTimeout,
  FenceDomain,
} from '../src/fence/index.js';

// Port of drivers/dma-buf/st-dma-fence-chain.c. The kernel's racing threads become interleavings
// on the simulated clock or seeded random steps.

const CHAIN_SZ = 4 << 10;
const mockOps: DmaFenceOps = { getDriverName: () => 'mock', getTimelineName: () => 'mock' };

interface FenceChains {
  readonly domain: FenceDomain;
  readonly clock: SimClock;
  readonly fences: DmaFence[];
  readonly chains: DmaFenceChain[];
  readonly tail: DmaFenceChain;
}

const seqnoInc = (i: number): number => i + 1;
const seqnoInc2 = (i: number): number => 2 * i + 2;

const mockChain = (
  domain: FenceDomain,
  prev: DmaFence | null,
  fence: DmaFence,
  seqno: number,
): DmaFenceChain => new DmaFenceChain(domain, prev?.get() ?? null, fence.get(), seqno);

const fenceChainsInit = (count: number, seqnoFn: (i: number) => number): FenceChains => {
  const clock = new SimClock();
  const domain = new FenceDomain(clock);
  const fences: DmaFence[] = [];
  const chains: DmaFenceChain[] = [];
  let tail: DmaFenceChain | null = null;
  for (let i = 0; i < count; i++) {
    const fence = new DmaFence(domain, mockOps, 0, 0);
    tail = mockChain(domain, tail, fence, seqnoFn(i));
    fences.push(fence);
    chains.push(tail);
  }
  if (tail === null) throw new Error('empty chain');
  return { domain, clock, fences, chains, tail };
};

/** fence_chains_fini, plus a leak check: every fence and link is released at the end. */
const fenceChainsFini = (fc: FenceChains): void => {
  for (const f of fc.fences) {
    f.signal();
    f.put();
  }
  for (const c of fc.chains) c.put();
  expect(fc.fences.every((f) => f.refcount === 0)).toBe(true);
  expect(fc.chains.every((c) => c.refcount === 0)).toBe(true);
};

const find = (fence: DmaFence, seqno: number): DmaFence | null => {
  const r = dmaFenceChainFindSeqno(fence, seqno);
  if (E.isLeft(r)) throw new Error(r.left.message);
  return r.right;
};

const at = <T>(xs: readonly T[], i: number): T => {
  const x = xs[i];
  if (x === undefined) throw new RangeError(`no element ${i}`);
  return x;
};

describe('dma_fence_chain self-tests (drivers/dma-buf/st-dma-fence-chain.c)', () => {
  it('sanitycheck: a chain link around a fence can be created and released', () => {
    const domain = new FenceDomain(new SimClock());
    const f = new DmaFence(domain, mockOps, 0, 0);
    const chain = new DmaFenceChain(domain, null, f.get(), 1);
    f.signal();
    f.put();
    chain.put();
    expect(f.refcount).toBe(0);
  });

  it('find_seqno: every timeline point finds its own link, itself, not the future, and its predecessor', () => {
    const fc = fenceChainsInit(64, seqnoInc);
    const zero = dmaFenceChainFindSeqno(fc.tail.get(), 0);
    expect(E.isRight(zero) && zero.right).toBe(fc.tail);
    fc.tail.put();
    for (let i = 0; i < fc.chains.length; i++) {
      const found = find(fc.tail.get(), i + 1);
      expect(found).toBe(at(fc.chains, i));
      found?.put();

      const self = find(at(fc.chains, i).get(), i + 1);
      expect(self).toBe(at(fc.chains, i));
      self?.put();

      const future = at(fc.chains, i).get();
      const r = dmaFenceChainFindSeqno(future, i + 2);
      expect(E.isLeft(r) && r.left.code).toBe('EINVAL');
      future.put();

      const previous = find(at(fc.chains, i).get(), i);
      expect(previous).toBe(i > 0 ? at(fc.chains, i - 1) : at(fc.chains, 0));
      previous?.put();
    }
    fenceChainsFini(fc);
  });

  it('find_signaled: a point whose fences all signaled finds nothing left to wait for', () => {
    const fc = fenceChainsInit(2, seqnoInc);
    at(fc.fences, 0).signal();
    const found = find(fc.tail.get(), 1);
    expect(found === null || found === at(fc.chains, 0)).toBe(true);
    found?.put();
    fenceChainsFini(fc);
  });

  it('find_out_of_order: a signaled middle point still waits for the earlier unsignaled one', () => {
    const fc = fenceChainsInit(3, seqnoInc);
    at(fc.fences, 1).signal();
    const found = find(fc.tail.get(), 2);
    expect(found).toBe(at(fc.chains, 0));
    found?.put();
    fenceChainsFini(fc);
  });

  it('find_gap: a seqno between two links is covered by the later link', () => {
    const fc = fenceChainsInit(64, seqnoInc2);
    for (let i = 0; i < fc.chains.length; i++) {
      const found = find(fc.tail.get(), 2 * i + 1);
      expect(found).toBe(at(fc.chains, i));
      found?.put();
      const self = find(at(fc.chains, i).get(), 2 * i + 2);
      expect(self).toBe(at(fc.chains, i));
      self?.put();
    }
    fenceChainsFini(fc);
  });

  it('find_race: random lookups interleaved with random signals always succeed (seeded, single-threaded)', () => {
    const fc = fenceChainsInit(CHAIN_SZ, seqnoInc);
    const rng = new Rng(0x5eed);
    for (let step = 0; step < 4000; step++) {
      const seqno = rng.below(CHAIN_SZ) + 1;
      const found = find(fc.tail.get(), seqno);
      if (found !== null) {
        if (found.seqno === seqno) {
          const self = find(found, seqno);
          self?.put();
        } else {
          found.put();
        }
      }
      at(fc.fences, rng.below(CHAIN_SZ - 1)).signal();
    }
    fenceChainsFini(fc);
  });

  it('signal_forward: signaling in order completes each link and not the next', () => {
    const fc = fenceChainsInit(64, seqnoInc);
    for (let i = 0; i < fc.chains.length; i++) {
      at(fc.fences, i).signal();
      expect(at(fc.chains, i).isSignaled()).toBe(true);
      if (i + 1 < fc.chains.length) expect(at(fc.chains, i + 1).isSignaled()).toBe(false);
    }
    fenceChainsFini(fc);
  });

  it('signal_backward: signaling in reverse completes nothing until the first fence signals', () => {
    const fc = fenceChainsInit(64, seqnoInc);
    for (let i = fc.chains.length - 1; i >= 0; i--) {
      at(fc.fences, i).signal();
      if (i > 0) expect(at(fc.chains, i).isSignaled()).toBe(false);
    }
    expect(fc.chains.every((c) => c.isSignaled())).toBe(true);
    fenceChainsFini(fc);
  });

  const waitChain = (order: (fc: FenceChains) => readonly number[]) => {
    const fc = fenceChainsInit(CHAIN_SZ, seqnoInc);
    order(fc).forEach((index, k) => {
      fc.clock.at(k + 1, () => at(fc.fences, index).signal());
    });
    expect(dmaFenceWaitTimeout(fc.tail, 10 * CHAIN_SZ)).toBeGreaterThan(0);
    expect(fc.tail.timestamp).toBe(CHAIN_SZ);
    expect(fc.clock.now()).toBe(CHAIN_SZ);
    fenceChainsFini(fc);
  };

  it('wait_forward: a wait on the tail ends when the last fence, signaled in order, signals', () => {
    waitChain((fc) => fc.fences.map((_, i) => i));
  });

  it('wait_backward: a wait on the tail ends when the first fence, signaled last, signals', () => {
    waitChain((fc) => fc.fences.map((_, i) => fc.fences.length - 1 - i));
  });

  it('wait_random: a wait on the tail ends when the last of randomly ordered fences signals', () => {
    const rng = new Rng(42);
    waitChain((fc) => {
      const order = fc.fences.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.below(i + 1);
        [order[i], order[j]] = [at(order, j), at(order, i)];
      }
      return order;
    });
  });
});

describe('dma_fence_chain rules (drivers/dma-buf/dma-fence-chain.c)', () => {
  it('a later seqno reuses the previous link context; an earlier one opens a context with the larger seqno', () => {
    const domain = new FenceDomain(new SimClock());
    const mk = () => new DmaFence(domain, mockOps, 0, 0);
    const first = new DmaFenceChain(domain, null, mk(), 5);
    const second = new DmaFenceChain(domain, first.get(), mk(), 9);
    expect(second.context).toBe(first.context);
    expect(second.prevSeqno).toBe(5);
    const stale = new DmaFenceChain(domain, second.get(), mk(), 3);
    expect(stale.context).not.toBe(first.context);
    expect(stale.seqno).toBe(9);
    expect(stale.prevSeqno).toBe(0);
    expect(stale.seqno64).toBe(true);
  });

  it('walking a chain unlinks signaled links and drops their references', () => {
    const fc = fenceChainsInit(4, seqnoInc);
    at(fc.fences, 1).signal();
    at(fc.fences, 2).signal();
    const seen = [...dmaFenceChainForEach(fc.tail)].map((link) => link.seqno);
    expect(seen).toEqual([4, 1]);
    expect(fc.tail.prev).toBe(at(fc.chains, 0));
    fenceChainsFini(fc);
  });

  it('a link signals with the error-free status once its fence and all earlier ones signaled', () => {
    const fc = fenceChainsInit(3, seqnoInc);
    let done = false;
    fc.tail.addCallback(() => (done = true));
    at(fc.fences, 2).signal();
    at(fc.fences, 0).signal();
    expect(done).toBe(false);
    at(fc.fences, 1).signal();
    expect(done).toBe(true);
    expect(fc.tail.getStatus()).toBe(1);
    fenceChainsFini(fc);
  });
});
