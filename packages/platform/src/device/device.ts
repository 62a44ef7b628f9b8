import * as E from 'fp-ts/lib/Either.js';
import { assertBufferSlice } from '../cache/buffer-slice.js';
import type { CpuCache } from '../cache/cpu-cache.js';
import { hex } from '../core/address.js';
import { type DmaMask, dmaBitMask } from '../core/dma-mask.js';
import type { EventBus } from '../core/event-bus.js';
import { type KernelError, type KResult, kernelError, ok } from '../core/kernel-error.js';
import type { PhysicalMemory } from '../memory/physical-memory.js';
import {
  busDmaLimitProblem,
  type DeviceConfig,
  dmaRangeOffsetProblem,
  type ResolvedDeviceConfig,
  resolveDeviceConfig,
} from './device-config.js';
import type { DeviceEvents, DeviceField } from './device-events.js';
import type { DeviceIommuSlot } from './device-iommu-slot.js';
import { DirectTranslation } from './direct-translation.js';
import { type DmaParms, dmaParmsProblem } from './dma-parms.js';
import type { DmaTranslation, TranslationOut } from './dma-translation.js';

const OK: KResult<void> = ok(undefined);
const INITIAL_RUNS = 64;

/** What a {@link Device} is wired to: the machine's RAM, CPU cache and device event bus. */
export interface DeviceHost {
  readonly memory: PhysicalMemory;
  readonly cache: CpuCache;
  readonly events: EventBus<DeviceEvents>;
  /** Translation to start with; a new {@link DirectTranslation} over `memory` when omitted. */
  readonly translation?: DmaTranslation;
}

/**
 * A bus-mastering device (`struct device` with its `dma_parms`) that moves real bytes. Its DMA
 * properties can be changed later, as `dma_set_mask()` or an IOMMU attach do; each change is
 * checked (a bad value is a set-up bug and throws) and emits `device-change`.
 *
 * A transfer first translates its whole bus range through {@link Device.translation}, so a fault
 * anywhere moves no byte; then copies run by run. A non-coherent device reads and writes RAM
 * behind the CPU cache — without a clean it reads stale memory, without an invalidate the CPU keeps
 * reading its stale lines — while a coherent device snoops the cache.
 *
 * A transfer allocates nothing per run: translations land in one reused {@link TranslationOut} and
 * the runs in a reused typed array. So a transfer cannot be started while another transfer of the
 * same device is translating or moving bytes (from its translation, or from a listener of a cache
 * event it causes); that throws. Listeners of the device's own events may start transfers.
 */
export class Device {
  /** Device name (`dev_name`), unique on the machine. */
  readonly name: string;
  /** Bus the device sits on. */
  readonly bus: string;
  /** True when the device snoops the CPU caches (`dev->dma_coherent`). */
  readonly coherent: boolean;
  /** False for a device that cannot master the bus: every transfer fails with EIO. */
  readonly doesDma: boolean;

  private readonly memory: PhysicalMemory;
  private readonly cache: CpuCache;
  private readonly events: EventBus<DeviceEvents>;
  private mask: DmaMask;
  private coherentMask: DmaMask;
  private limit: number;
  private offset: number;
  private parms: DmaParms;
  private iommuSlot: DeviceIommuSlot | undefined;
  private via: DmaTranslation;
  private readonly out: TranslationOut = { pasid: -1, phys: 0, error: undefined };
  /** Translated runs of the current transfer as (phys, length) pairs; grown, never shrunk. */
  private runs = new Float64Array(INITIAL_RUNS * 2);
  /** Set during a transfer: `out` and `runs` belong to it. */
  private busy = false;

  /**
   * @param config the device description; see {@link DeviceConfig} for defaults.
   * @throws RangeError when the description is invalid (use `DeviceRegistry.add` to get EINVAL).
   */
  constructor(config: DeviceConfig, host: DeviceHost) {
    const resolved = toResolved(config);
    this.name = resolved.name;
    this.bus = resolved.bus;
    this.coherent = resolved.coherent;
    this.doesDma = resolved.doesDma;
    this.mask = resolved.dmaMask;
    this.coherentMask = resolved.coherentDmaMask;
    this.limit = resolved.busDmaLimit;
    this.offset = resolved.dmaRangeOffset;
    this.parms = resolved.dmaParms;
    this.memory = host.memory;
    this.cache = host.cache;
    this.events = host.events;
    this.via = host.translation ?? new DirectTranslation(host.memory);
  }

  /** Streaming DMA mask (`*dev->dma_mask`). Setting it emits `device-change`. */
  get dmaMask(): DmaMask {
    return this.mask;
  }
  set dmaMask(mask: DmaMask) {
    this.mask = dmaBitMask(mask.bits);
    this.changed('dmaMask', mask.bits);
  }

  /** Coherent DMA mask (`dev->coherent_dma_mask`). Setting it emits `device-change`. */
  get coherentDmaMask(): DmaMask {
    return this.coherentMask;
  }
  set coherentDmaMask(mask: DmaMask) {
    this.coherentMask = dmaBitMask(mask.bits);
    this.changed('coherentDmaMask', mask.bits);
  }

  /** Highest bus address the interconnect carries, inclusive (`dev->bus_dma_limit`); 0 = none. */
  get busDmaLimit(): number {
    return this.limit;
  }
  set busDmaLimit(limit: number) {
    check(busDmaLimitProblem(limit));
    this.limit = limit;
    this.changed('busDmaLimit', limit);
  }

  /** `dma-ranges` offset: bus address = physical − offset (`dev->dma_range_map`, one range). */
  get dmaRangeOffset(): number {
    return this.offset;
  }
  set dmaRangeOffset(offset: number) {
    check(dmaRangeOffsetProblem(offset));
    this.offset = offset;
    this.changed('dmaRangeOffset', offset);
  }

  /** Segment limits (`dev->dma_parms`); replace the whole object to change them. */
  get dmaParms(): DmaParms {
    return this.parms;
  }
  set dmaParms(parms: DmaParms) {
    check(dmaParmsProblem(parms));
    this.parms = Object.freeze({ ...parms });
    this.changed('dmaParms', this.parms);
  }

  /** The IOMMU the device sits behind (`dev->iommu`), filled in by the IOMMU layer. */
  get iommu(): DeviceIommuSlot | undefined {
    return this.iommuSlot;
  }
  set iommu(slot: DeviceIommuSlot | undefined) {
    this.iommuSlot = slot;
    this.changed('iommu', slot === undefined ? null : { instance: slot.instance, streamId: slot.streamId });
  }

  /** How the device's bus addresses reach memory; {@link DirectTranslation} until an IOMMU installs its own. */
  get translation(): DmaTranslation {
    return this.via;
  }
  set translation(translation: DmaTranslation) {
    this.via = translation;
    this.changed('translation', translation.constructor.name);
  }

  /**
   * The device reads `length` bytes at bus address `busAddr` into its own buffer `dst[dstOff…]`.
   * Errors (nothing moved, `dma-fault` emitted): EIO when the device does not do DMA (as
   * `dma_set_mask()` answers for a device without a `dma_mask`, `kernel/dma/mapping.c`); the
   * translation's error, EFAULT for direct translation, when any byte of the range faults.
   * `pasid` tags the access with a process address space ID (SVA); -1, the default, sends none.
   * @throws RangeError when the buffer slice is invalid.
   */
  dmaRead(busAddr: number, dst: Uint8Array, dstOff: number, length: number, pasid = -1): KResult<void> {
    assertBufferSlice(`${this.name} dmaRead`, dst, dstOff, length);
    return this.transfer(false, busAddr, dst, dstOff, length, pasid);
  }

  /**
   * The device writes `src[srcOff…]` (`length` bytes) to bus address `busAddr`. Errors as
   * {@link Device.dmaRead}; nothing is written when any byte of the range faults.
   * @throws RangeError when the buffer slice is invalid.
   */
  dmaWrite(busAddr: number, src: Uint8Array, srcOff: number, length: number, pasid = -1): KResult<void> {
    assertBufferSlice(`${this.name} dmaWrite`, src, srcOff, length);
    return this.transfer(true, busAddr, src, srcOff, length, pasid);
  }

  private transfer(
    write: boolean,
    busAddr: number,
    buf: Uint8Array,
    off: number,
    length: number,
    pasid: number,
  ): KResult<void> {
    if (!this.doesDma) {
      const error = kernelError('EIO', `${this.name} does not do DMA (it has no DMA mask)`, {
        device: this.name,
        busAddr,
        length,
        write,
      });
      return this.fault(error, busAddr, length, busAddr, write);
    }
    if (length === 0) return OK;
    if (this.busy)
      throw new Error(`${this.name}: a transfer was started from inside another of its transfers`);
    this.busy = true;
    this.out.pasid = pasid;
    let count: number;
    try {
      count = this.translateAll(busAddr, length, write);
      if (count >= 0) this.copyRuns(write, count, buf, off);
    } finally {
      this.busy = false;
    }
    if (count < 0) return this.fault(this.out.error as KernelError, busAddr, length, -count - 1, write);
    if (this.events.active) {
      this.events.emit(write ? 'dma-write' : 'dma-read', { device: this.name, busAddr, length, pasid });
    }
    return OK;
  }

  /** Moves the bytes of translated runs; cannot fail, since every run was checked to be RAM. */
  private copyRuns(write: boolean, count: number, buf: Uint8Array, off: number): void {
    let done = 0;
    for (let i = 0; i < count; i++) {
      const phys = this.runs[2 * i] as number;
      const n = this.runs[2 * i + 1] as number;
      const result = this.coherent
        ? write
          ? this.cache.snoopWrite(phys, buf, off + done, n)
          : this.cache.snoopRead(phys, buf, off + done, n)
        : write
          ? this.memory.write(phys, buf, off + done, n)
          : this.memory.read(phys, buf, off + done, n);
      if (E.isLeft(result)) throw new Error(`${this.name}: a checked run failed: ${result.left.message}`);
      done += n;
    }
  }

  /**
   * Translates the whole range into `runs`, merging physically adjacent runs. Returns the run
   * count, or −(faultAddr + 1) with `out.error` set when some byte cannot be reached.
   */
  private translateAll(busAddr: number, length: number, write: boolean): number {
    const out = this.out;
    let count = 0;
    for (let done = 0; done < length; ) {
      const at = busAddr + done;
      out.error = undefined;
      const n = this.via.translate(this, at, length - done, write, out);
      if (n === 0) {
        out.error ??= kernelError('EFAULT', `${this.name}: bus address ${hex(at)} faulted`, {
          device: this.name,
          busAddr: at,
          write,
        });
        return -(at + 1);
      }
      if (!Number.isSafeInteger(n) || n < 0 || n > length - done) {
        throw new Error(`${this.name}: translation returned ${n} bytes for a ${length - done}-byte request`);
      }
      if (!this.memory.isRam(out.phys, n)) {
        out.error = kernelError(
          'EFAULT',
          `${this.name}: bus address ${hex(at)} translates to ${hex(out.phys)}, which is not RAM`,
          { device: this.name, busAddr: at, phys: out.phys, length: n, write },
        );
        return -(at + 1);
      }
      count = this.pushRun(count, out.phys, n);
      done += n;
    }
    return count;
  }

  private pushRun(count: number, phys: number, n: number): number {
    const last = 2 * (count - 1);
    if (count > 0 && (this.runs[last] as number) + (this.runs[last + 1] as number) === phys) {
      this.runs[last + 1] = (this.runs[last + 1] as number) + n;
      return count;
    }
    if (2 * count + 2 > this.runs.length) {
      const grown = new Float64Array(this.runs.length * 2);
      grown.set(this.runs);
      this.runs = grown;
    }
    this.runs[2 * count] = phys;
    this.runs[2 * count + 1] = n;
    return count + 1;
  }

  private fault(
    error: KernelError,
    busAddr: number,
    length: number,
    faultAddr: number,
    write: boolean,
  ): KResult<void> {
    if (this.events.active) {
      this.events.emit('dma-fault', {
        device: this.name,
        busAddr,
        length,
        faultAddr,
        write,
        code: error.code,
        message: error.message,
      });
    }
    return E.left(error);
  }

  private changed(field: DeviceField, value: unknown): void {
    if (this.events.active) this.events.emit('device-change', { device: this.name, field, value });
  }
}

const toResolved = (config: DeviceConfig): ResolvedDeviceConfig => {
  const resolved = resolveDeviceConfig(config);
  if (E.isLeft(resolved)) throw new RangeError(resolved.left.message);
  return resolved.right;
};

const check = (problem: string | undefined): void => {
  if (problem !== undefined) throw new RangeError(problem);
};
