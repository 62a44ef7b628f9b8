import type { DmaBufAttachment } from './dma-buf-attachment.js';

/**
 * A dynamic importer's callbacks (`struct dma_buf_attach_ops`). `moveNotify` is called when the
 * exporter moved the backing: the importer's earlier mapping is already invalid and it must map
 * again before its next access.
 */
export interface DmaBufImporterOps {
  /** `move_notify`: the exporter moved the backing under `attachment`; map again before the next access. */
  moveNotify(attachment: DmaBufAttachment): void;
}
