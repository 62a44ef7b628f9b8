import type { DmaFence } from './dma-fence.js';

const U32 = 2 ** 32;
const S32_LIMIT = 2 ** 31;

/**
 * `__dma_fence_is_later`: true if seqno `f1` comes after `f2` on one timeline. 64-bit seqnos compare
 * plainly; 32-bit ones compare their low 32 bits modulo 2^32, so `(int)(f1 - f2) > 0` and a timeline
 * may wrap (`1` is later than `0xffffffff`).
 */
export const seqnoIsLater = (f1: number, f2: number, seqno64: boolean): boolean => {
  if (seqno64) return f1 > f2;
  const diff = ((((f1 % U32) - (f2 % U32)) % U32) + U32) % U32;
  return diff !== 0 && diff < S32_LIMIT;
};

const checkSameContext = (op: string, f1: DmaFence, f2: DmaFence): void => {
  if (f1.context !== f2.context) {
    throw new Error(`${op}: fences ${f1.describe()} and ${f2.describe()} are on different contexts`);
  }
};

/**
 * `dma_fence_is_later`: true if `f1` signals after `f2`, judged by `f1`'s seqno width. Both must be on
 * one context: the kernel warns otherwise and the model throws.
 */
export const dmaFenceIsLater = (f1: DmaFence, f2: DmaFence): boolean => {
  checkSameContext('dma_fence_is_later', f1, f2);
  return seqnoIsLater(f1.seqno, f2.seqno, f1.seqno64);
};

/** `dma_fence_is_later_or_same`: {@link dmaFenceIsLater}, or the very same fence. */
export const dmaFenceIsLaterOrSame = (f1: DmaFence, f2: DmaFence): boolean =>
  f1 === f2 || dmaFenceIsLater(f1, f2);

/**
 * `dma_fence_later`: the fence of the two that signals last, or null if that one already signaled.
 * Same-context rule as {@link dmaFenceIsLater}.
 */
export const dmaFenceLater = (f1: DmaFence, f2: DmaFence): DmaFence | null => {
  const later = dmaFenceIsLater(f1, f2) ? f1 : f2;
  return later.isSignaled() ? null : later;
};
