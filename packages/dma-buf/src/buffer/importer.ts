import type { DmaBufAttachment } from './dma-buf-attachment.js';

/**
 * A dynamic importer's callbacks (`struct dma_buf_attach_ops`). `moveNotify` is called when the
 * exporter moved the backing: the importer's earlier mapping is already invalid and it must map
 * again before its next access.
 */
export interface DmaBufImporterOps {
  moveNotify(attachment: DmaBufAttachment): void;
}
