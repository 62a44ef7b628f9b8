import type { DmaDirection, SgTable } from '@sharedbuf/dma-mapping';
import type { Device } from '@sharedbuf/platform';
import type { AttacherConstraints } from '../constraints/index.js';
import type { DmaBufImporterOps } from './importer.js';

/**
 * One device's attachment to a dma-buf (`struct dma_buf_attachment`): the constraints the device
 * implies, its importer (dynamic when it has `moveNotify`), and the mapping handed out, cached per
 * attachment.
 */
export class DmaBufAttachment {
  /** The table handed out by the last map, while mapped. */
  sgt: SgTable | undefined;
  /** Direction of the cached mapping. */
  dir: DmaDirection | undefined;
  /** A static importer's mapping pins the backing (`dma_buf_pin`). */
  pinned = false;
  /** Set when detached: any later use is refused. */
  detached = false;

  constructor(
    readonly id: number,
    readonly device: Device,
    readonly constraints: AttacherConstraints,
    readonly importer: DmaBufImporterOps | undefined,
    /** The kernel's `peer2peer` flag: the importer can take PCI peer-to-peer addresses. */
    readonly peer2peer: boolean,
  ) {}

  /** A dynamic importer can follow a move of the backing (`dma_buf_attachment_is_dynamic`). */
  get dynamic(): boolean {
    return this.importer !== undefined;
  }
}
