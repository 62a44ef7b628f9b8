import { PAGE_SIZE, type Platform, unwrap } from '@sharedbuf/platform';
import type { Backing } from '../heaps/index.js';

/**
 * Copies a buffer's bytes from one backing to another, as an exporter does when it migrates: the
 * CPU's dirty lines of the old pages are cleaned first (the data may live in the cache), then memory
 * is copied run by run — every byte arrives. The new pages come cleared through the cache, with no
 * stale line left to be written back over the copy.
 */
export const copyBacking = (platform: Platform, from: Backing, to: Backing): void => {
  for (const r of from.runs) unwrap(platform.cache.clean(r.phys, r.length));
  let src = 0;
  let srcOff = 0;
  let dst = 0;
  let dstOff = 0;
  for (let left = Math.ceil(from.size / PAGE_SIZE) * PAGE_SIZE; left > 0; ) {
    const s = from.runs[src]!;
    const d = to.runs[dst]!;
    const n = Math.min(left, s.length - srcOff, d.length - dstOff);
    unwrap(platform.memory.copy(d.phys + dstOff, s.phys + srcOff, n));
    left -= n;
    srcOff += n;
    dstOff += n;
    if (srcOff === s.length) [src, srcOff] = [src + 1, 0];
    if (dstOff === d.length) [dst, dstOff] = [dst + 1, 0];
  }
};
