import type { Errno } from '../core/errno.js';

/** A device property whose change is reported by `device-change`. */
export type DeviceField =
  | 'dmaMask'
  | 'coherentDmaMask'
  | 'busDmaLimit'
  | 'dmaRangeOffset'
  | 'dmaParms'
  | 'iommu'
  | 'translation';

/** Events of the device bus (trace source `devices`). */
export type DeviceEvents = {
  /** A device was registered (`device_add`). */
  'device-add': {
    device: string;
    bus: string;
    coherent: boolean;
    doesDma: boolean;
    dmaMaskBits: number;
    coherentDmaMaskBits: number;
    busDmaLimit: number;
    dmaRangeOffset: number;
  };
  /** A device was unregistered (`device_del`): later layers unbind and tear down its mappings. */
  'device-remove': { device: string; bus: string };
  /** A DMA property changed (`dma_set_mask`, IOMMU attach, …); `value` is its JSON form. */
  'device-change': { device: string; field: DeviceField; value: unknown };
  /** The device read `length` bytes of memory at `busAddr`. */
  'dma-read': { device: string; busAddr: number; length: number; pasid: number };
  /** The device wrote `length` bytes of memory at `busAddr`. */
  'dma-write': { device: string; busAddr: number; length: number; pasid: number };
  /** A transfer was refused; `faultAddr` is the first bus address that could not be reached. */
  'dma-fault': {
    device: string;
    busAddr: number;
    length: number;
    faultAddr: number;
    write: boolean;
    code: Errno;
    message: string;
  };
};
