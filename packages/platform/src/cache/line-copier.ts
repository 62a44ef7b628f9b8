/**
 * Copies `n` bytes between typed arrays without creating a view. Used for pieces of at most one
 * cache line, where a `subarray` + `set` pair would allocate an object per piece on the hot path.
 */
export const copyBytes = (
  dst: Uint8Array,
  dstOff: number,
  src: Uint8Array,
  srcOff: number,
  n: number,
): void => {
  for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i] as number;
};

const VIEWS = 4;

/**
 * Copies pieces of at most a line, 32 bits at a time when both ends are 4-byte aligned (whole
 * lines between the cache and RAM pages always are), else byte by byte. Word views of the few
 * buffers in use are kept, so a copy allocates nothing; copying words moves the same bits as
 * copying bytes, whatever the host's byte order.
 */
export class LineCopier {
  private readonly buffers: (ArrayBufferLike | undefined)[] = new Array(VIEWS).fill(undefined);
  private readonly words: Int32Array[] = new Array(VIEWS);
  private next = 0;

  /** Copies `src[srcOff…srcOff+n)` to `dst[dstOff…]`. */
  copy(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
    const d = dst.byteOffset + dstOff;
    const s = src.byteOffset + srcOff;
    if (n % 4 !== 0 || d % 4 !== 0 || s % 4 !== 0) {
      copyBytes(dst, dstOff, src, srcOff, n);
      return;
    }
    const dw = this.wordsOf(dst.buffer);
    const sw = this.wordsOf(src.buffer);
    const di = d / 4;
    const si = s / 4;
    for (let i = 0; i < n / 4; i++) dw[di + i] = sw[si + i] as number;
  }

  private wordsOf(buffer: ArrayBufferLike): Int32Array {
    for (let i = 0; i < VIEWS; i++) if (this.buffers[i] === buffer) return this.words[i] as Int32Array;
    const view = new Int32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
    this.buffers[this.next] = buffer;
    this.words[this.next] = view;
    this.next = (this.next + 1) % VIEWS;
    return view;
  }
}
