import { fail, type KResult, ok } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { DmaBuf } from './dma-buf.js';

/** The first descriptor handed out (0–2 are stdio). */
const FIRST_FD = 3;

/**
 * A process's file descriptors for dma-bufs (`dma_buf_fd` / `dma_buf_get(fd)` / `close`): installing
 * takes a reference, closing drops it, and a descriptor that is not open is EBADF. The lowest free
 * number is reused, as `get_unused_fd_flags` does.
 */
export class DmaBufFdTable {
  private readonly fds = new Map<number, DmaBuf>();

  constructor(readonly pid: number) {}

  /** `dma_buf_fd`: a new descriptor for `buf`, holding a reference. EBADF for a released buffer. */
  install(buf: DmaBuf): KResult<number> {
    const ref = buf.get();
    if (E.isLeft(ref)) return ref;
    let fd = FIRST_FD;
    while (this.fds.has(fd)) fd += 1;
    this.fds.set(fd, buf);
    return ok(fd);
  }

  /** `dma_buf_get(fd)`: the buffer with a new reference for the caller (put it when done). */
  get(fd: number): KResult<DmaBuf> {
    const buf = this.fds.get(fd);
    if (buf === undefined)
      return fail('EBADF', `fd ${fd} is not an open dma-buf in process ${this.pid}`, { fd, pid: this.pid });
    return buf.get();
  }

  /** `close(fd)`: drops the descriptor's reference. */
  close(fd: number): KResult<void> {
    const buf = this.fds.get(fd);
    if (buf === undefined)
      return fail('EBADF', `fd ${fd} is not open in process ${this.pid}`, { fd, pid: this.pid });
    this.fds.delete(fd);
    return buf.put();
  }

  /** Open descriptors. */
  list(): number[] {
    return [...this.fds.keys()];
  }
}
