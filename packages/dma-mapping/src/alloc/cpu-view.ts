import { type CacheAttr, type Cpu, fail, type KResult, ok } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';

/** A physically contiguous piece of a DMA allocation. */
export interface DmaChunk {
  readonly phys: number;
  readonly length: number;
}

/**
 * The kernel's CPU mapping of a DMA allocation (the `cpu_addr` of `dma_alloc_attrs`, possibly a
 * vmap of scattered pages): byte offsets into the buffer, accessed through the CPU with the mapping's
 * attribute — uncached or write-combined for a non-coherent device's coherent buffer, cached
 * otherwise.
 */
export class CpuView {
  readonly size: number;

  constructor(
    private readonly cpu: Cpu,
    readonly chunks: readonly DmaChunk[],
    readonly attr: CacheAttr,
  ) {
    this.size = chunks.reduce((n, c) => n + c.length, 0);
  }

  /** Reads `length` bytes at `offset` into `dst[dstOff…]`. EINVAL beyond the buffer. */
  read(offset: number, dst: Uint8Array, dstOff: number, length: number): KResult<void> {
    return this.each(offset, length, (phys, at, n) => this.cpu.read(phys, dst, dstOff + at, n, this.attr));
  }

  /** Writes `src[srcOff…]` (`length` bytes) at `offset`. EINVAL beyond the buffer. */
  write(offset: number, src: Uint8Array, srcOff: number, length: number): KResult<void> {
    return this.each(offset, length, (phys, at, n) => this.cpu.write(phys, src, srcOff + at, n, this.attr));
  }

  private each(
    offset: number,
    length: number,
    op: (phys: number, at: number, n: number) => KResult<void>,
  ): KResult<void> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      return fail('EINVAL', `access ${offset}+${length} is outside the ${this.size}-byte buffer`);
    }
    let base = 0;
    for (const c of this.chunks) {
      const from = Math.max(offset, base);
      const to = Math.min(offset + length, base + c.length);
      if (from < to) {
        const r = op(c.phys + (from - base), from - offset, to - from);
        if (E.isLeft(r)) return r;
      }
      base += c.length;
    }
    return ok(undefined);
  }
}
