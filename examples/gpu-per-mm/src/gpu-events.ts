/** Events of the GPU driver (trace source `gpu:<device>`); every payload is plain JSON data. */
export type GpuEvents = {
  /** A process opened the GPU: its mm is bound, `pasid` names its GPU address space. */
  open: { pid: number; pasid: number; domain: number };
  /** A process's GPU file was released: its buffers are gone and the binding dropped. */
  close: { pid: number; pasid: number };
  /** A buffer object was placed in a process at `va` (no kernel mapping). */
  'bo-create': { pid: number; name: string; va: number; size: number; kernelIova: number };
  /** A dma-buf was imported into a process's GPU address space at `va`. */
  import: { pid: number; buffer: string; fd: number; va: number; length: number; writable: boolean };
  /** A job was written into ring slot `slot` and the doorbell rung. */
  submit: { job: number; pid: number; pasid: number; kind: string; slot: number };
  /** A job finished or was stopped by a fault. */
  complete: {
    job: number;
    pid: number;
    status: 'done' | 'faulted';
    pageRequests: number;
    refusedFaults: number;
  };
};
