import type { Cpu } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';

const CHUNK = 16 * 1024;

/**
 * The `memcpy` of `swiotlb_bounce()` (`kernel/dma/swiotlb.c`): the CPU copies between the original
 * buffer and the pool through its cached path, so the copy lands in (and is read from) the CPU cache
 * like any kernel store; the DMA layer does the cache maintenance on the pool address afterwards.
 * Copies in chunks through one scratch buffer: a bounce allocates nothing.
 */
export class BounceCopier {
  private readonly scratch = new Uint8Array(CHUNK);

  constructor(private readonly cpu: Cpu) {}

  /**
   * Copies `length` bytes from physical `src` to physical `dst` through the CPU cache.
   * @throws Error when a range touches a hole: callers check both ranges are RAM first.
   */
  copy(dst: number, src: number, length: number): void {
    const buf = this.scratch;
    for (let done = 0; done < length; done += CHUNK) {
      const n = Math.min(CHUNK, length - done);
      const read = this.cpu.read(src + done, buf, 0, n);
      if (E.isLeft(read)) throw new Error(`swiotlb bounce: a checked source faulted: ${read.left.message}`);
      const written = this.cpu.write(dst + done, buf, 0, n);
      if (E.isLeft(written)) {
        throw new Error(`swiotlb bounce: a checked destination faulted: ${written.left.message}`);
      }
    }
  }
}
