export { type AttachOptions, DmaBuf, type ExportOptions } from './dma-buf.js';
export { DmaBufAttachment } from './dma-buf-attachment.js';
export type { DmaBufContext, HeapSource } from './dma-buf-context.js';
export { DmaBufCore, type DmaBufCoreOptions, type PlannedAttacher } from './dma-buf-core.js';
export type { DmaBufEvents } from './dma-buf-events.js';
export { DmaBufFdTable } from './fd-table.js';
export type { DmaBufImporterOps } from './importer.js';
