import type { Errno } from '@sharedbuf/platform';

/** How an event names a fence: its per-domain id (fences may share context and seqno) and its place. */
export type DmaFenceRef = {
  readonly fence: number;
  readonly context: number;
  readonly seqno: number;
};

/** A {@link DmaResvUsage} as it appears in traces. */
export type DmaResvUsageName = 'kernel' | 'write' | 'read' | 'bookkeep';

/**
 * The events of one {@link FenceDomain}: its fences (the kernel's `trace/events/dma_fence.h`
 * tracepoints) and the reservation objects built on them, which share the domain's bus so one trace
 * shows a producer's fence being added, waited on and signaled. Payloads are plain JSON data; the
 * trace recorder adds the simulated time.
 */
export type DmaFenceEvents = {
  /** `trace_dma_fence_init`: a fence was created. */
  'fence-init': DmaFenceRef & { readonly driver: string; readonly timeline: string };
  /** `trace_dma_fence_enable_signal`: someone now waits on the fence, so its driver must signal it. */
  'fence-enable-signaling': DmaFenceRef;
  /** `dma_fence_set_error`: the fence will complete with this error. */
  'fence-set-error': DmaFenceRef & { readonly error: Errno };
  /** `trace_dma_fence_signaled`: the fence completed at `time` (ns), with `error` or none. */
  'fence-signaled': DmaFenceRef & { readonly error: Errno | null; readonly time: number };
  /** A callback registered with `dma_fence_add_callback` ran; `index` is its place among those queued. */
  'fence-callback': DmaFenceRef & { readonly index: number };
  /** `trace_dma_fence_destroy`: the last reference was dropped. */
  'fence-release': DmaFenceRef;
  /** `trace_dma_fence_wait_start`/`_end` folded into one: a synchronous wait from `start` to `end` ns. */
  'fence-wait': DmaFenceRef & { readonly start: number; readonly end: number; readonly signaled: boolean };
  /** `dma_resv_lock` succeeded; `ctx` is the acquire context's stamp, or null when locked without one. */
  'resv-lock': { readonly resv: string; readonly ctx: number | null };
  /** `dma_resv_unlock`. */
  'resv-unlock': { readonly resv: string };
  /** `dma_resv_reserve_fences` grew the list to `capacity`, dropping `pruned` signaled fences. */
  'resv-reserve': {
    readonly resv: string;
    readonly num: number;
    readonly capacity: number;
    readonly pruned: number;
  };
  /** `dma_resv_add_fence`; `replaced` is the entry the fence took over, if any. */
  'resv-add-fence': {
    readonly resv: string;
    readonly fence: DmaFenceRef;
    readonly usage: DmaResvUsageName;
    readonly replaced: DmaFenceRef | null;
  };
  /** `dma_resv_replace_fences` replaced `count` entries of `context`. */
  'resv-replace-fences': {
    readonly resv: string;
    readonly context: number;
    readonly replacement: DmaFenceRef;
    readonly usage: DmaResvUsageName;
    readonly count: number;
  };
  /** `dma_resv_copy_fences` replaced this object's fences with `count` fences of `src`. */
  'resv-copy-fences': { readonly resv: string; readonly src: string; readonly count: number };
  /** `dma_resv_fini`: the object dropped its fences. */
  'resv-fini': { readonly resv: string };
};
