/** Typed events of the DMA API; payloads are plain JSON data. */
export type DmaMappingEvents = {
  map: {
    device: string;
    ops: string;
    phys: number;
    dma: number;
    size: number;
    dir: number;
    bounced: boolean;
  };
  'map-error': { device: string; ops: string; phys: number; size: number; code: string; message: string };
  unmap: { device: string; dma: number; size: number; dir: number };
  'map-sg': { device: string; ops: string; origNents: number; nents: number; dir: number };
  'unmap-sg': { device: string; nents: number; dir: number };
  sync: { device: string; dma: number; size: number; dir: number; to: 'cpu' | 'device' };
  alloc: {
    device: string;
    kind: 'coherent' | 'noncoherent';
    size: number;
    dma: number;
    chunks: number;
    cpuView: string;
  };
  free: { device: string; kind: 'coherent' | 'noncoherent'; size: number; dma: number };
  'iova-alloc': { device: string; iova: number; size: number; fixed: boolean };
  'iova-free': { device: string; iova: number; size: number };
};
