/**
 * What DMA debug found wrong. Kinds named after a `kernel/dma/debug.c` check carry that check's
 * message; the others are the model's own (see each).
 *
 * From `check_unmap()`: `free-invalid-address`, `free-not-allocated` (also a double unmap: the
 * entry is gone), `free-different-size`, `free-wrong-function`, `free-different-cpu-address`,
 * `free-sg-different-count`, `free-different-direction`, `map-error-not-checked`.
 * From `check_sync()`: `sync-not-allocated`, `sync-outside-range`, `sync-different-direction`,
 * `sync-read-only-for-cpu`, `sync-write-only-to-device`, `sync-sg-different-count`.
 * From `add_dma_entry()`: `cacheline-overlap`. From `check_sg_segment()`: `sg-segment-too-long`,
 * `sg-segment-boundary`. From `dma_debug_device_change()`: `pending-at-unbind`.
 * The model's own ownership checks (Documentation/core-api/dma-api-howto.rst, no kernel check):
 * `cpu-access-device-owned`, `device-dma-cpu-owned`, `device-dma-not-mapped`,
 * `device-dma-wrong-direction`.
 */
export type DmaDebugFindingKind =
  | 'free-invalid-address'
  | 'free-not-allocated'
  | 'free-different-size'
  | 'free-wrong-function'
  | 'free-different-cpu-address'
  | 'free-sg-different-count'
  | 'free-different-direction'
  | 'map-error-not-checked'
  | 'sync-not-allocated'
  | 'sync-outside-range'
  | 'sync-different-direction'
  | 'sync-read-only-for-cpu'
  | 'sync-write-only-to-device'
  | 'sync-sg-different-count'
  | 'cacheline-overlap'
  | 'sg-segment-too-long'
  | 'sg-segment-boundary'
  | 'pending-at-unbind'
  | 'cpu-access-device-owned'
  | 'device-dma-cpu-owned'
  | 'device-dma-not-mapped'
  | 'device-dma-wrong-direction';

/**
 * One violation, as one `err_printk()` of `kernel/dma/debug.c`: the device it concerns (`NULL`
 * when none), the kernel's message without the `DMA-API: <driver> <device>:` prefix, and the
 * numbers in it as structured detail (plain JSON).
 */
export interface DmaDebugFinding {
  readonly kind: DmaDebugFindingKind;
  readonly device: string;
  readonly message: string;
  readonly detail: Readonly<Record<string, unknown>>;
}
