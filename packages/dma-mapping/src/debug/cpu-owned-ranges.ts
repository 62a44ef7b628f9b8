/**
 * Which bytes of one mapping the CPU owns, as sorted, disjoint, non-adjacent half-open offset
 * ranges `[start, end)` stored flat (`[s0, e0, s1, e1, …]`); every other byte is owned by the device.
 *
 * Ownership is per byte because `dma_sync_single_for_{cpu,device}()` may cover only part of a
 * mapping (Documentation/core-api/dma-api.rst: "you can use dma_handle and size parameters that
 * aren't identical … to do a partial sync"). A mapping rarely has more than one or two ranges, so
 * queries scan linearly and allocate nothing.
 */
export class CpuOwnedRanges {
  private bounds: number[] = [];

  /** The CPU takes `[start, end)`: the effect of `dma_sync_*_for_cpu()` (or of allocation). */
  claim(start: number, end: number): void {
    if (end <= start) return;
    const out: number[] = [];
    let s = start;
    let e = end;
    let placed = false;
    for (let i = 0; i < this.bounds.length; i += 2) {
      const bs = this.bounds[i] as number;
      const be = this.bounds[i + 1] as number;
      if (be < s) {
        out.push(bs, be);
      } else if (bs > e) {
        if (!placed) out.push(s, e);
        placed = true;
        out.push(bs, be);
      } else {
        s = Math.min(s, bs);
        e = Math.max(e, be);
      }
    }
    if (!placed) out.push(s, e);
    this.bounds = out;
  }

  /** The device takes `[start, end)` back: the effect of `dma_sync_*_for_device()`. */
  release(start: number, end: number): void {
    if (end <= start || this.bounds.length === 0) return;
    const out: number[] = [];
    for (let i = 0; i < this.bounds.length; i += 2) {
      const bs = this.bounds[i] as number;
      const be = this.bounds[i + 1] as number;
      if (be <= start || bs >= end) {
        out.push(bs, be);
        continue;
      }
      if (bs < start) out.push(bs, start);
      if (be > end) out.push(end, be);
    }
    this.bounds = out;
  }

  /** True when the CPU owns the byte at `offset`. */
  cpuOwns(offset: number): boolean {
    for (let i = 0; i < this.bounds.length; i += 2) {
      if (offset < (this.bounds[i] as number)) return false;
      if (offset < (this.bounds[i + 1] as number)) return true;
    }
    return false;
  }

  /** The end of the run of bytes with the same owner as `offset`, capped at `limit`. */
  runEnd(offset: number, limit: number): number {
    for (let i = 0; i < this.bounds.length; i += 2) {
      const bs = this.bounds[i] as number;
      const be = this.bounds[i + 1] as number;
      if (offset < bs) return Math.min(bs, limit);
      if (offset < be) return Math.min(be, limit);
    }
    return limit;
  }

  /** The first device-owned offset in `[start, end)`, or -1 when the CPU owns all of it. */
  firstDeviceOwned(start: number, end: number): number {
    let x = start;
    for (let i = 0; i < this.bounds.length && x < end; i += 2) {
      const bs = this.bounds[i] as number;
      const be = this.bounds[i + 1] as number;
      if (be <= x) continue;
      if (bs > x) return x;
      x = be;
    }
    return x < end ? x : -1;
  }

  /** True when the CPU owns no byte. */
  get empty(): boolean {
    return this.bounds.length === 0;
  }

  /** True when the CPU owns every byte of `[0, size)`. */
  coversAll(size: number): boolean {
    return (
      size === 0 || (this.bounds.length === 2 && this.bounds[0] === 0 && (this.bounds[1] as number) >= size)
    );
  }

  /** The ranges as `{ offset, size }` records, for snapshots. */
  toRanges(): { offset: number; size: number }[] {
    const out: { offset: number; size: number }[] = [];
    for (let i = 0; i < this.bounds.length; i += 2) {
      const bs = this.bounds[i] as number;
      out.push({ offset: bs, size: (this.bounds[i + 1] as number) - bs });
    }
    return out;
  }
}
