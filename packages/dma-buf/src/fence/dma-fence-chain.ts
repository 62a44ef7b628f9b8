import { fail, type KResult, ok } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { DmaFence, type DmaFenceOps } from './dma-fence.js';
import type { FenceDomain } from './fence-domain.js';
import { seqnoIsLater } from './fence-order.js';

/**
 * One point of a timeline (`struct dma_fence_chain`, drivers/dma-buf/dma-fence-chain.c): it wraps
 * `fence` and links to the previous point, and signals once its own fence and every earlier link
 * have signaled. Walking the chain drops links that already signaled.
 *
 * The kernel re-arms the callback from an irq_work; the model does it synchronously inside the
 * component's callback.
 */
export class DmaFenceChain extends DmaFence {
  private static readonly chainOps: DmaFenceOps = {
    getDriverName: () => 'dma_fence_chain',
    getTimelineName: () => 'unbound',
    enableSignaling: (fence) => (fence as DmaFenceChain).armCallback(),
    signaled: (fence) => allLinksSignaled(fence),
    release: (fence) => (fence as DmaFenceChain).unlink(),
  };

  private prevLink: DmaFence | null;
  /** The fence this link wraps (`chain->fence`). */
  readonly fence: DmaFence;
  /** The previous link's seqno when the context was reused, else 0 (`chain->prev_seqno`). */
  readonly prevSeqno: number;

  /**
   * `dma_fence_chain_init`: takes over the caller's references to `prev` and `fence`. The link reuses
   * `prev`'s context when `prev` is a chain and `seqno` is later; otherwise it opens a new context and
   * its seqno is at least `prev`'s. Chain links use 64-bit seqnos.
   */
  constructor(domain: FenceDomain, prev: DmaFence | null, fence: DmaFence, seqno: number) {
    const prevChain = toDmaFenceChain(prev);
    const reused =
      prevChain !== null && seqnoIsLater(seqno, prevChain.seqno, prevChain.seqno64) ? prevChain : null;
    const context = reused?.context ?? domain.contextAlloc(1);
    // A new context still needs a seqno no earlier than the link it follows.
    const linkSeqno = prevChain !== null && reused === null ? Math.max(prevChain.seqno, seqno) : seqno;
    super(domain, DmaFenceChain.chainOps, context, linkSeqno, { seqno64: true });
    this.prevLink = prev;
    this.fence = fence;
    this.prevSeqno = reused?.seqno ?? 0;
  }

  /** The previous link (`chain->prev`), borrowed; walks move it back as earlier links signal. */
  get prev(): DmaFence | null {
    return this.prevLink;
  }

  /** `dma_fence_chain_get_prev`: a new reference to the previous link, or null. */
  getPrev(): DmaFence | null {
    return this.prevLink === null ? null : this.prevLink.get();
  }

  /** See {@link dmaFenceChainWalk}. */
  static walk(fence: DmaFence): DmaFence | null {
    const chain = toDmaFenceChain(fence);
    if (chain === null) {
      fence.put();
      return null;
    }
    let prev = chain.getPrev();
    while (prev !== null) {
      const prevChain = toDmaFenceChain(prev);
      if (!dmaFenceChainContained(prev).isSignaled()) break;
      chain.prevLink = prevChain === null ? null : prevChain.getPrev();
      // Drop the link's old reference and ours.
      prev.put();
      prev.put();
      prev = chain.getPrev();
    }
    fence.put();
    return prev;
  }

  /**
   * `enable_signaling`: a callback on the first unsignaled fence walking back from this link; when it
   * fires, re-arm on the next one, and signal once none is left. Holds a reference to this link and to
   * the watched fence while armed.
   */
  private armCallback(): boolean {
    this.get();
    for (let iter: DmaFence | null = this.get(); iter !== null; iter = dmaFenceChainWalk(iter)) {
      const f = dmaFenceChainContained(iter).get();
      const added = f.addCallback((signaled) => this.linkSignaled(signaled));
      if (E.isRight(added)) {
        iter.put();
        return true;
      }
      f.put();
    }
    this.put();
    return false;
  }

  /**
   * `release`: drops `prev` and `fence`. Like the kernel, it first unlinks predecessors it holds the
   * last reference to, one by one, so releasing a long chain does not recurse once per link.
   */
  private unlink(): void {
    for (let prev = this.prevLink; prev !== null && prev.refcount === 1; prev = this.prevLink) {
      const prevChain = toDmaFenceChain(prev);
      if (prevChain === null) break;
      this.prevLink = prevChain.prevLink;
      prevChain.prevLink = null;
      prev.put();
    }
    this.prevLink?.put();
    this.prevLink = null;
    this.fence.put();
  }

  private linkSignaled(watched: DmaFence): void {
    watched.put();
    if (!this.armCallback()) this.signal();
    this.put();
  }
}

/** `to_dma_fence_chain`: the fence as a chain link, or null. */
export const toDmaFenceChain = (fence: DmaFence | null): DmaFenceChain | null =>
  fence instanceof DmaFenceChain ? fence : null;

/** `dma_fence_chain_contained`: the fence a chain link wraps, or the fence itself. */
export const dmaFenceChainContained = (fence: DmaFence): DmaFence => toDmaFenceChain(fence)?.fence ?? fence;

/**
 * `dma_fence_chain_walk`: steps from link `fence` to its predecessor, first unlinking predecessors
 * whose fences signaled. Consumes the caller's reference to `fence` and returns a reference to the
 * predecessor, or null at the end of the chain (or when `fence` is no chain link).
 */
export const dmaFenceChainWalk = (fence: DmaFence): DmaFence | null => DmaFenceChain.walk(fence);

/** `dma_fence_chain_for_each`: the links from `head` back, dropping signaled ones as it walks. */
export function* dmaFenceChainForEach(head: DmaFence): Generator<DmaFence, void, undefined> {
  let iter: DmaFence | null = head.get();
  try {
    while (iter !== null) {
      yield iter;
      iter = dmaFenceChainWalk(iter);
    }
  } finally {
    iter?.put();
  }
}

const allLinksSignaled = (fence: DmaFence): boolean => {
  for (const link of dmaFenceChainForEach(fence)) {
    if (!dmaFenceChainContained(link).isSignaled()) return false;
  }
  return true;
};

/**
 * `dma_fence_chain_find_seqno`: moves from chain link `fence` to the link that will signal timeline
 * point `seqno`: the oldest one not yet signaled that covers it, or null if every link up to it has
 * signaled. Seqno 0 returns `fence` itself. On success the caller's reference to `fence` is consumed
 * and the result carries its own; on error the caller keeps its reference.
 * Errors: `EINVAL` when `fence` is no chain link or the timeline has not reached `seqno` yet.
 */
export const dmaFenceChainFindSeqno = (fence: DmaFence, seqno: number): KResult<DmaFence | null> => {
  if (seqno === 0) return ok(fence);
  const chain = toDmaFenceChain(fence);
  if (chain === null || chain.seqno < seqno) {
    return fail('EINVAL', `Timeline point ${seqno} is not on chain ${fence.describe()} yet.`, {
      ...fence.ref(),
      seqno,
    });
  }
  let iter: DmaFence | null = chain.get();
  while (iter !== null) {
    const link = toDmaFenceChain(iter);
    if (link === null || link.context !== chain.context || link.prevSeqno < seqno) break;
    iter = dmaFenceChainWalk(iter);
  }
  chain.put();
  return ok(iter);
};
