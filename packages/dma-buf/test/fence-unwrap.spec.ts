import { SimClock } from '@sharedbuf/platform';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  DmaFenceArray,
  DmaFenceChain,
  type DmaFenceOps,
  dmaFenceIsContainer,
  dmaFenceUnwrap,
  FenceDomain,
} from '../src/fence/index.js';

// Port of drivers/dma-buf/st-dma-fence-unwrap.c.

const mockOps: DmaFenceOps = { getDriverName: () => 'mock', getTimelineName: () => 'mock' };

const setup = () => {
  const domain = new FenceDomain(new SimClock());
  const mock = () => new DmaFence(domain, mockOps, 0, 0);
  // Like the kernel's helpers, the containers take over the references they are given.
  const mockArray = (...fences: DmaFence[]) =>
    new DmaFenceArray(domain, fences, domain.contextAlloc(1), 1, false);
  const mockChain = (prev: DmaFence | null, fence: DmaFence) => new DmaFenceChain(domain, prev, fence, 1);
  return { domain, mock, mockArray, mockChain };
};

describe('dma_fence_unwrap self-tests (drivers/dma-buf/st-dma-fence-unwrap.c)', () => {
  it('sanitycheck: a chain around an array around a fence is built and released', () => {
    const { mock, mockArray, mockChain } = setup();
    const f = mock();
    const array = mockArray(f.get());
    const chain = mockChain(null, array);
    f.signal();
    chain.put();
    expect(array.refcount).toBe(0);
    expect(f.refcount).toBe(1);
  });

  it('unwrap_array: unwrapping an array yields each of its fences', () => {
    const { mock, mockArray } = setup();
    const f1 = mock();
    const f2 = mock();
    const array = mockArray(f1.get(), f2.get());
    expect([...dmaFenceUnwrap(array)]).toEqual([f1, f2]);
    f1.signal();
    f2.signal();
    array.put();
    expect(array.refcount).toBe(0);
  });

  it('unwrap_chain: unwrapping a chain yields each link fence, newest first', () => {
    const { mock, mockChain } = setup();
    const f1 = mock();
    const f2 = mock();
    const chain = mockChain(f1.get(), f2.get());
    expect([...dmaFenceUnwrap(chain)]).toEqual([f2, f1]);
    f1.signal();
    f2.signal();
    chain.put();
    expect([chain.refcount, f1.refcount, f2.refcount]).toEqual([0, 1, 1]);
  });

  it('unwrap_chain_array: unwrapping a chain of an array yields the array fences', () => {
    const { mock, mockArray, mockChain } = setup();
    const f1 = mock();
    const f2 = mock();
    const chain = mockChain(null, mockArray(f1.get(), f2.get()));
    expect([...dmaFenceUnwrap(chain)]).toEqual([f1, f2]);
    f1.signal();
    f2.signal();
    chain.put();
    expect([f1.refcount, f2.refcount]).toEqual([1, 1]);
  });

  it('stopping an unwrap early drops the references it held', () => {
    const { mock, mockChain } = setup();
    const f1 = mock();
    const chain = mockChain(f1.get(), mock());
    for (const _ of dmaFenceUnwrap(chain)) break;
    expect(chain.refcount).toBe(1);
  });

  it('arrays and chain links are containers, plain fences are not (dma_fence_is_container)', () => {
    const { mock, mockArray, mockChain } = setup();
    expect(dmaFenceIsContainer(mock())).toBe(false);
    expect(dmaFenceIsContainer(mockArray(mock()))).toBe(true);
    expect(dmaFenceIsContainer(mockChain(null, mock()))).toBe(true);
  });
});
