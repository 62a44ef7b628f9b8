import { type Device, type EventBus, fail, type KResult, type Mm, ok, pow2 } from '@sharedbuf/platform';
import type { IommuDomain } from './iommu-domain.js';
import type { IommuEvents } from './iommu-events.js';
import type { IommuGroup } from './iommu-group.js';
import type { IommuInstance } from './iommu-instance.js';

/** A device bound to a process address space (`struct iommu_sva`). */
export interface SvaHandle {
  readonly device: Device;
  readonly mm: Mm;
  /** The PASID the device tags its DMA with (`iommu_sva_get_pasid`). */
  readonly pasid: number;
  readonly domain: IommuDomain;
}

interface Binding {
  readonly handle: SvaHandle;
  users: number;
}

interface SvaDomainState {
  readonly domain: IommuDomain;
  readonly unregister: () => void;
}

/** What SVA needs from the core. */
export interface SvaDeps {
  readonly bus: EventBus<IommuEvents>;
  groupOf(device: Device): IommuGroup | undefined;
  /** Creates the SVA domain of `mm` on `instance`, at `pasid`. */
  newSvaDomain(instance: IommuInstance, mm: Mm, pasid: number): IommuDomain;
}

/** `IOMMU_FIRST_GLOBAL_PASID`: PASID 0 is kept for DMA without a PASID. */
const FIRST_GLOBAL_PASID = 1;

/**
 * Shared virtual addressing (`drivers/iommu/iommu-sva.c`): a device bound to a process gets the
 * mm's PASID and, through an SVA domain attached at that PASID, uses the process's own page table —
 * the bus address of user memory is its virtual address (seed 002). Pages not touched yet are
 * faulted in through the mm (I/O page faults); munmap reaches the IOTLB through an mmu notifier; when
 * the process exits, the domain blocks every access until the driver unbinds.
 *
 * One PASID per mm, shared by every device bound to it, kept for the mm's lifetime
 * (`mm_pasid_drop` at exit); one SVA domain per (instance, mm).
 */
export class IommuSva {
  private readonly pasidOfMm = new Map<Mm, number>();
  private nextPasid = FIRST_GLOBAL_PASID;
  private readonly domains = new Map<IommuInstance, Map<Mm, SvaDomainState>>();
  private readonly bindings = new Map<Device, Map<Mm, Binding>>();

  constructor(private readonly deps: SvaDeps) {}

  /**
   * `iommu_sva_bind_device`: binds `device` to `mm`. Binding the same pair again returns the same
   * handle (counted). Errors: ENODEV without an IOMMU; EOPNOTSUPP when the instance has no SVA;
   * EINVAL for an mm whose process exited; ENOSPC when PASIDs run out.
   */
  bind(device: Device, mm: Mm): KResult<SvaHandle> {
    const group = this.deps.groupOf(device);
    if (group === undefined) return fail('ENODEV', `${device.name} is not behind an IOMMU`);
    const hw = group.instance.hw;
    if (!hw.sva)
      return fail('EOPNOTSUPP', `${hw.name} cannot bind devices to process address spaces (no SVA)`);
    if (mm.exited) return fail('EINVAL', `process ${mm.pid} has exited`);
    const existing = this.bindings.get(device)?.get(mm);
    if (existing) {
      existing.users += 1;
      return ok(existing.handle);
    }
    const pasid = this.pasidOfMm.get(mm) ?? this.nextPasid;
    if (pasid >= pow2(hw.pasidBits))
      return fail('ENOSPC', `${hw.name} has no PASID left (${hw.pasidBits} bits)`);
    if (!this.pasidOfMm.has(mm)) {
      this.pasidOfMm.set(mm, pasid);
      this.nextPasid += 1;
    }
    const domain = this.domainFor(group.instance, mm, pasid);
    group.pasidDomains.set(pasid, domain);
    domain.groups.add(group);
    const handle: SvaHandle = { device, mm, pasid, domain };
    let perDevice = this.bindings.get(device);
    if (perDevice === undefined) {
      perDevice = new Map();
      this.bindings.set(device, perDevice);
    }
    perDevice.set(mm, { handle, users: 1 });
    this.deps.bus.emit('bind', { device: device.name, pasid, pid: mm.pid, domain: domain.id });
    return ok(handle);
  }

  /**
   * `iommu_sva_unbind_device`: drops one use of the binding; the last one detaches the domain from
   * the device's PASID (and frees the domain when no device uses it). EINVAL for a handle no longer
   * bound.
   */
  unbind(handle: SvaHandle): KResult<void> {
    const perDevice = this.bindings.get(handle.device);
    const binding = perDevice?.get(handle.mm);
    if (perDevice === undefined || binding === undefined || binding.handle !== handle) {
      return fail('EINVAL', `${handle.device.name} is not bound to process ${handle.mm.pid}`);
    }
    binding.users -= 1;
    if (binding.users > 0) return ok(undefined);
    perDevice.delete(handle.mm);
    const group = this.deps.groupOf(handle.device)!;
    group.pasidDomains.delete(handle.pasid);
    handle.domain.groups.delete(group);
    if (handle.domain.groups.size === 0) this.freeDomain(group.instance, handle.mm);
    this.deps.bus.emit('unbind', { device: handle.device.name, pasid: handle.pasid, pid: handle.mm.pid });
    return ok(undefined);
  }

  /** The PASID of an mm, or -1 when no device was ever bound to it. */
  pasidOf(mm: Mm): number {
    return this.pasidOfMm.get(mm) ?? -1;
  }

  private domainFor(instance: IommuInstance, mm: Mm, pasid: number): IommuDomain {
    let perInstance = this.domains.get(instance);
    if (perInstance === undefined) {
      perInstance = new Map();
      this.domains.set(instance, perInstance);
    }
    const known = perInstance.get(mm);
    if (known) return known.domain;
    const domain = this.deps.newSvaDomain(instance, mm, pasid);
    domain.tlb.instances.add(instance);
    const unregister = mm.registerNotifier({
      invalidateRange: (_mm, start, end) => {
        domain.tlb.flushRange(domain.id, start, end - start);
        this.deps.bus.emit('flush', {
          instance: instance.name,
          domain: domain.id,
          start,
          end: end - 1,
          all: false,
        });
      },
      release: () => {
        domain.mmGone = true;
        domain.tlb.tlbFlushAll();
      },
    });
    perInstance.set(mm, { domain, unregister });
    return domain;
  }

  private freeDomain(instance: IommuInstance, mm: Mm): void {
    const perInstance = this.domains.get(instance);
    const state = perInstance?.get(mm);
    if (state === undefined) return;
    state.unregister();
    state.domain.tlb.tlbFlushAll();
    state.domain.freed = true;
    perInstance?.delete(mm);
  }
}
