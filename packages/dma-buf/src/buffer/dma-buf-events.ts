/** Typed events of the dma-buf core; payloads are plain JSON data. */
export type DmaBufEvents = {
  export: { buf: number; name: string; size: number };
  attach: { buf: number; device: string; dynamic: boolean; late: boolean; constraints: string[] };
  'attach-refused': { buf: number; device: string; code: string; field: string | null; message: string };
  detach: { buf: number; device: string; constraints: string[] };
  negotiate: { buf: number; attachers: string[]; constraints: string[]; heap: string; reasons: string[] };
  'negotiate-failed': {
    buf: number;
    attachers: string[];
    code: string;
    field: string | null;
    message: string;
  };
  allocate: { buf: number; heap: string; runs: number; bytes: number };
  migrate: { buf: number; from: string; to: string; bytes: number; newcomer: string; reason: string };
  'move-notify': { buf: number; device: string };
  map: { buf: number; device: string; dir: number; nents: number; cached: boolean };
  unmap: { buf: number; device: string; dir: number };
  'cpu-access': { buf: number; op: 'begin' | 'end'; dir: number; synced: string[] };
  mmap: { buf: number; pid: number; va: number; length: number };
  release: { buf: number; name: string };
};
