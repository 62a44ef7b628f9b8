import * as E from 'fp-ts/lib/Either.js';
import type { CpuCache } from '../cache/cpu-cache.js';
import type { EventBus } from '../core/event-bus.js';
import { fail, type KResult, ok } from '../core/kernel-error.js';
import type { PhysicalMemory } from '../memory/physical-memory.js';
import { Device } from './device.js';
import { type DeviceConfig, resolveDeviceConfig } from './device-config.js';
import type { DeviceEvents } from './device-events.js';
import { DirectTranslation } from './direct-translation.js';

/**
 * The machine's devices (the driver core's device list, `device_add` / `device_del`). Every device
 * starts on the registry's shared {@link DirectTranslation}. Adding and removing emit events on the
 * device bus, which is how later layers (IOMMU probe, DMA debug, dma-buf) hook probe and unbind.
 */
export class DeviceRegistry {
  /** The direct (no IOMMU) translation new devices start with. */
  readonly directTranslation: DirectTranslation;
  private readonly devices = new Map<string, Device>();

  /**
   * @param memory the machine's RAM.
   * @param cache the CPU cache coherent devices snoop.
   * @param events the device bus (trace source `devices`), shared by every device added here.
   */
  constructor(
    private readonly memory: PhysicalMemory,
    private readonly cache: CpuCache,
    readonly events: EventBus<DeviceEvents>,
  ) {
    this.directTranslation = new DirectTranslation(memory);
  }

  /**
   * Creates and registers a device (`device_add`); emits `device-add`. Errors: EINVAL for an invalid
   * description (naming the field); EEXIST when a device of that name exists.
   */
  add(config: DeviceConfig): KResult<Device> {
    const resolved = resolveDeviceConfig(config);
    if (E.isLeft(resolved)) return resolved;
    const c = resolved.right;
    if (this.devices.has(c.name)) {
      return fail('EEXIST', `a device named ${c.name} is already registered`, { device: c.name });
    }
    const device = new Device(config, {
      memory: this.memory,
      cache: this.cache,
      events: this.events,
      translation: this.directTranslation,
    });
    this.devices.set(c.name, device);
    if (this.events.active) {
      this.events.emit('device-add', {
        device: c.name,
        bus: c.bus,
        coherent: c.coherent,
        doesDma: c.doesDma,
        dmaMaskBits: c.dmaMask.bits,
        coherentDmaMaskBits: c.coherentDmaMask.bits,
        busDmaLimit: c.busDmaLimit,
        dmaRangeOffset: c.dmaRangeOffset,
      });
    }
    return ok(device);
  }

  /** The device of that name, or `undefined`. */
  get(name: string): Device | undefined {
    return this.devices.get(name);
  }

  /** Every registered device, in registration order. */
  list(): readonly Device[] {
    return [...this.devices.values()];
  }

  /**
   * Unregisters a device (`device_del`) and emits `device-remove`; returns it. The object keeps
   * working — like hardware, a removed device can still master the bus if nobody stopped it.
   * Errors: ENODEV when no device has that name.
   */
  remove(name: string): KResult<Device> {
    const device = this.devices.get(name);
    if (device === undefined)
      return fail('ENODEV', `no device named ${name} is registered`, { device: name });
    this.devices.delete(name);
    if (this.events.active) this.events.emit('device-remove', { device: name, bus: device.bus });
    return ok(device);
  }
}
