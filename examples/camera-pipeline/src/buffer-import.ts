import type { ConstraintExtras, DmaBuf, DmaBufAttachment } from '@sharedbuf/dma-buf';
import type { DmaDirection, SgTable } from '@sharedbuf/dma-mapping';
import type { Device, KResult, SimClock } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';

/** One `move_notify` an importer received: which buffer, which device, when (simulated ns). */
export interface MoveNotice {
  readonly buffer: string;
  readonly device: string;
  readonly time: number;
}

/** How a driver imports a buffer. */
export interface ImportOptions {
  /** A dynamic importer follows moves (`dma_buf_dynamic_attach`); a static one pins on map. */
  readonly dynamic: boolean;
  readonly constraints?: ConstraintExtras;
}

/**
 * One device's import of a dma-buf, as its driver keeps it: the attachment, the direction it maps in
 * and the scatterlist in use. A dynamic importer's `move_notify` only marks the mapping stale — the
 * exporter has already torn it down — and the next {@link mapping} unmaps the stale table and maps
 * again, which is what drivers implementing `dma_buf_attach_ops.move_notify` do before their next job.
 */
export class BufferImport {
  private sgt: SgTable | undefined;
  private stale: SgTable | undefined;

  private constructor(
    readonly buf: DmaBuf,
    readonly attachment: DmaBufAttachment,
    readonly dir: DmaDirection,
  ) {}

  /**
   * `dma_buf_attach` / `dma_buf_dynamic_attach` of `device` to `buf`. `notices` collects the
   * `move_notify` calls, stamped with `clock`. Fails as the attach does (EBUSY with a certificate
   * when the buffer cannot serve the device).
   */
  static attach(
    buf: DmaBuf,
    device: Device,
    dir: DmaDirection,
    opts: ImportOptions,
    clock: SimClock,
    notices: MoveNotice[],
  ): KResult<BufferImport> {
    const holder: { self?: BufferImport } = {};
    const importer = {
      moveNotify: (att: DmaBufAttachment) => {
        notices.push({ buffer: buf.name, device: att.device.name, time: clock.now() });
        holder.self?.invalidate();
      },
    };
    const att = buf.attach(device, {
      ...(opts.dynamic ? { importer } : {}),
      ...(opts.constraints ? { constraints: opts.constraints } : {}),
    });
    if (E.isLeft(att)) return att;
    holder.self = new BufferImport(buf, att.right, dir);
    return E.right(holder.self);
  }

  /** The importing device. */
  get device(): Device {
    return this.attachment.device;
  }

  /** The table the device uses now, if mapped and not invalidated by a move. */
  get current(): SgTable | undefined {
    return this.sgt;
  }

  /**
   * The scatterlist to program the device with: the cached one, or — first time, or after a
   * `move_notify` — a fresh `dma_buf_map_attachment` (the first map of a buffer negotiates its backing).
   */
  mapping(): KResult<SgTable> {
    if (this.sgt) return E.right(this.sgt);
    if (this.stale) {
      const dropped = this.buf.unmapAttachment(this.attachment, this.stale, this.dir);
      if (E.isLeft(dropped)) return dropped;
      this.stale = undefined;
    }
    const sgt = this.buf.mapAttachment(this.attachment, this.dir);
    if (E.isRight(sgt)) this.sgt = sgt.right;
    return sgt;
  }

  /** `dma_buf_unmap_attachment` then `dma_buf_detach`. */
  release(): KResult<void> {
    const table = this.sgt ?? this.stale;
    if (table) {
      const unmapped = this.buf.unmapAttachment(this.attachment, table, this.dir);
      if (E.isLeft(unmapped)) return unmapped;
    }
    this.sgt = undefined;
    this.stale = undefined;
    return this.buf.detach(this.attachment);
  }

  private invalidate(): void {
    if (this.sgt) this.stale = this.sgt;
    this.sgt = undefined;
  }
}
