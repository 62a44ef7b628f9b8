import {
  type Device,
  EventBus,
  fail,
  hex,
  type KResult,
  ok,
  type PhysicalMemory,
  pow2,
} from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { IommuHardware } from '../hardware/iommu-hardware.js';
import { ArmLpaeS1Pgtable } from '../io-pgtable/arm-lpae-s1.js';
import type { IoPgtablePageSource } from '../io-pgtable/types.js';
import { IovaDomain } from '../iova/iova-domain.js';
import { DomainTlb } from './domain-tlb.js';
import { type DomainType, isPagingDomainType } from './domain-type.js';
import { type DomainGeometry, IommuDomain } from './iommu-domain.js';
import type { IommuEvents } from './iommu-events.js';
import type { IommuFault, IommuFaultHandler, IommuFaultReason } from './iommu-fault.js';
import { IommuGroup } from './iommu-group.js';
import { IommuInstance } from './iommu-instance.js';
import { IommuSva } from './iommu-sva.js';
import { IommuTranslation } from './iommu-translation.js';
import { commonPgsizes, lowestPgsize } from './page-sizes.js';
import type { ResvRegion } from './resv-region.js';

/** What the IOMMU core needs from the machine. */
export interface IommuDeps {
  /** Physical memory, where IO page tables live. */
  readonly memory: PhysicalMemory;
  /** Where table pages come from (the page allocator). */
  readonly tables: IoPgtablePageSource;
  /** The event bus; a new one (source `iommu`) by default. */
  readonly bus?: EventBus<IommuEvents>;
}

/** How a device sits behind an IOMMU: its firmware description (`iommus = <&smmu sid>`). */
export interface ProbeOptions {
  /** Instance name. */
  readonly instance: string;
  /** Stream ID (requester ID) the device emits. */
  readonly streamId: number;
  /**
   * Topology key: devices behind the same instance with the same key cannot be isolated and share
   * a group. Absent: a group of one.
   */
  readonly group?: string;
  /** Reserved IOVA regions of this device (`iommu_get_resv_regions`). */
  readonly resvRegions?: readonly ResvRegion[];
}

/** Options of {@link IommuCore.domainAlloc}. */
export interface DomainAllocOptions {
  /**
   * Allocate for this instance only (seed 001: a domain bound to one IOMMU). Without it, a paging
   * domain may span every instance whose page-table format agrees.
   */
  readonly instance?: string;
}

const GENERIC_PGSIZES = 0x1000 + 0x20_0000 + 0x4000_0000;
const OK: KResult<void> = ok(undefined);

/**
 * The IOMMU core (`drivers/iommu/iommu.c`): registered hardware instances, groups, domains, attach
 * and detach with the kernel's rules, map and unmap through the domain's IO page table, the IOTLB
 * maintenance that goes with them, reserved regions and fault reporting. The device is the key to
 * its IOMMU (seed 001): nothing here assumes a single instance.
 */
export class IommuCore {
  /** Events: probe, attach, detach, map, unmap, flush, fault, bind, … */
  readonly bus: EventBus<IommuEvents>;
  /** Every fault reported, in order (handled or not). */
  readonly faults: (IommuFault & { handled: boolean })[] = [];
  private readonly instances = new Map<string, IommuInstance>();
  private readonly groups: IommuGroup[] = [];
  private readonly groupOfDevice = new Map<Device, IommuGroup>();
  private readonly savedTranslation = new Map<Device, Device['translation']>();
  /** Shared virtual addressing: bind devices to process address spaces. */
  readonly sva: IommuSva;
  private nextDomainId = 1;
  private nextGroupId = 0;

  constructor(private readonly deps: IommuDeps) {
    this.bus = deps.bus ?? new EventBus<IommuEvents>('iommu');
    this.sva = new IommuSva({
      bus: this.bus,
      groupOf: (device) => this.groupOfDevice.get(device),
      newSvaDomain: (instance, mm, pasid) => {
        const id = this.nextDomainId++;
        const geometry = { apertureStart: 0, apertureEnd: pow2(instance.hw.iasBits) - 1 };
        const tlb = new DomainTlb(id);
        const domain = new IommuDomain(
          id,
          'sva',
          instance,
          instance.hw.format,
          0x1000,
          geometry,
          undefined,
          undefined,
          tlb,
          this.bus,
          mm,
          pasid,
        );
        this.bus.emit('domain-alloc', { domain: id, type: 'sva', instance: instance.name });
        return domain;
      },
    });
  }

  /** Registers a hardware instance (`iommu_device_register`). EEXIST for a duplicate name. */
  registerHardware(hw: IommuHardware): KResult<IommuInstance> {
    if (this.instances.has(hw.name)) return fail('EEXIST', `IOMMU instance ${hw.name} is already registered`);
    const instance = new IommuInstance(hw);
    this.instances.set(hw.name, instance);
    this.bus.emit('hw-register', { instance: hw.name, model: hw.model });
    return ok(instance);
  }

  /** A registered instance by name. */
  instance(name: string): IommuInstance | undefined {
    return this.instances.get(name);
  }

  /** Every registered instance. */
  listInstances(): IommuInstance[] {
    return [...this.instances.values()];
  }

  /** Every group, in creation order. */
  listGroups(): readonly IommuGroup[] {
    return this.groups;
  }

  /**
   * Puts a device behind an instance (`iommu_probe_device`): joins or creates its group, attaches
   * the group's current domain, and routes the device's DMA through the IOMMU.
   * Errors: ENODEV unknown instance; EBUSY device already behind an IOMMU, or the instance is wired
   * to another device (MSM); EINVAL bad stream ID or reserved region; ENOMEM/ENOSPC from the default
   * domain.
   */
  probeDevice(device: Device, opts: ProbeOptions): KResult<IommuGroup> {
    const instance = this.instances.get(opts.instance);
    if (instance === undefined) return fail('ENODEV', `no IOMMU instance named ${opts.instance}`);
    if (this.groupOfDevice.has(device) || device.iommu !== undefined) {
      return fail('EBUSY', `${device.name} is already behind an IOMMU`, { device: device.name });
    }
    if (instance.devices.size >= instance.hw.maxDevices) {
      return fail('EBUSY', `${instance.name} is wired to ${[...instance.devices][0]?.name} only`, {
        instance: instance.name,
      });
    }
    if (!Number.isInteger(opts.streamId) || opts.streamId < 0) {
      return fail('EINVAL', `stream ID ${opts.streamId} is not a non-negative integer`);
    }
    const regions = opts.resvRegions ?? [];
    const badRegion = regions.find(
      (r) => !(r.length > 0) || r.start < 0 || r.start % 4096 || r.length % 4096,
    );
    if (badRegion) return fail('EINVAL', `reserved region at ${hex(badRegion.start)} is not page aligned`);
    const key = instance.hw.model === 'null' ? undefined : opts.group;
    let group =
      key === undefined ? undefined : this.groups.find((g) => g.instance === instance && g.key === key);
    const created = group === undefined;
    if (group === undefined) {
      const dom = this.allocDomain(instance.hw.defaultDomainType, instance);
      if (E.isLeft(dom)) return dom;
      group = new IommuGroup(this.nextGroupId, instance, key, dom.right);
      const held = this.takeContext(dom.right, instance);
      if (E.isLeft(held)) {
        this.releaseDomain(dom.right);
        return held;
      }
      this.nextGroupId += 1;
      this.groups.push(group);
      dom.right.groups.add(group);
    } else if (!this.regionsFree(group.domain, regions)) {
      return fail(
        'EINVAL',
        `a reserved region of ${device.name} is already mapped in ${group.domain.describe()}`,
      );
    }
    group.devices.push(device);
    group.resvRegions.set(device, regions);
    this.applyResvRegions(group.defaultDomain, regions);
    instance.devices.add(device);
    this.groupOfDevice.set(device, group);
    this.savedTranslation.set(device, device.translation);
    device.iommu = { instance: instance.name, streamId: opts.streamId };
    device.translation = new IommuTranslation(group, this);
    this.bus.emit('probe', {
      device: device.name,
      instance: instance.name,
      streamId: opts.streamId,
      group: group.id,
    });
    if (created) this.emitAttach(group.domain, group, null);
    return ok(group);
  }

  /**
   * Takes a device away from its IOMMU (`iommu_release_device`): it leaves its group (an empty group
   * is freed with its default domain) and its DMA goes back to direct translation. EINVAL if the
   * device is not behind an IOMMU; EBUSY while it is bound to a process (SVA) or its group is
   * attached to a non-default domain with other members gone.
   */
  releaseDevice(device: Device): KResult<void> {
    const group = this.groupOfDevice.get(device);
    if (group === undefined) return fail('EINVAL', `${device.name} is not behind an IOMMU`);
    if (group.pasidDomains.size > 0) return fail('EBUSY', `${device.name} is still bound to a process (SVA)`);
    if (group.devices.length === 1 && group.domain !== group.defaultDomain) {
      return fail('EBUSY', `detach ${group.domain.describe()} from ${device.name} before releasing it`);
    }
    group.devices.splice(group.devices.indexOf(device), 1);
    group.resvRegions.delete(device);
    group.instance.devices.delete(device);
    this.groupOfDevice.delete(device);
    device.translation = this.savedTranslation.get(device) ?? device.translation;
    this.savedTranslation.delete(device);
    device.iommu = undefined;
    if (group.devices.length === 0) {
      group.defaultDomain.groups.delete(group);
      this.dropContext(group.defaultDomain, group.instance);
      this.releaseDomain(group.defaultDomain);
      this.groups.splice(this.groups.indexOf(group), 1);
    }
    this.bus.emit('release', { device: device.name, group: group.id });
    return OK;
  }

  /** The group of a device (`iommu_group_get`), or undefined when it has no IOMMU. */
  groupOf(device: Device): IommuGroup | undefined {
    return this.groupOfDevice.get(device);
  }

  /** The domain a device's DMA goes through now (`iommu_get_domain_for_dev`). */
  domainOf(device: Device): IommuDomain | undefined {
    return this.groupOfDevice.get(device)?.domain;
  }

  /** The reserved regions of a device (`iommu_get_resv_regions`). */
  resvRegions(device: Device): readonly ResvRegion[] {
    return this.groupOfDevice.get(device)?.resvRegions.get(device) ?? [];
  }

  /**
   * Allocates a domain (`iommu_paging_domain_alloc` / `iommu_domain_alloc`). With `instance`, the
   * domain is bound to that IOMMU and takes its page sizes and aperture; without, it uses the common
   * LPAE format (4K/2M/1G, 48-bit) and may span instances. SVA domains come from `svaBind`.
   * Errors: EINVAL for `sva` or a type the instance cannot do; ENODEV unknown instance; ENOMEM.
   */
  domainAlloc(type: DomainType, opts: DomainAllocOptions = {}): KResult<IommuDomain> {
    if (type === 'sva') return fail('EINVAL', 'SVA domains are created by binding a device to an mm');
    let instance: IommuInstance | undefined;
    if (opts.instance !== undefined) {
      instance = this.instances.get(opts.instance);
      if (instance === undefined) return fail('ENODEV', `no IOMMU instance named ${opts.instance}`);
      if (!instance.hw.domainTypes.includes(type)) {
        return fail('EINVAL', `${instance.name} cannot provide ${type} domains`, {
          instance: instance.name,
          type,
        });
      }
    }
    return this.allocDomain(type, instance);
  }

  /**
   * Frees a domain (`iommu_domain_free`). EBUSY while a group is attached to it; EINVAL when it is a
   * group's default domain or already freed.
   */
  domainFree(domain: IommuDomain): KResult<void> {
    if (domain.freed) return fail('EINVAL', `${domain.describe()} was already freed`);
    if (this.groups.some((g) => g.defaultDomain === domain)) {
      return fail('EINVAL', `${domain.describe()} is a default domain; it goes with its group`);
    }
    if (domain.groups.size > 0) return fail('EBUSY', `${domain.describe()} is still attached`);
    this.releaseDomain(domain);
    return OK;
  }

  /** Sets the domain's fault handler (`iommu_set_fault_handler`); undefined removes it. */
  setFaultHandler(domain: IommuDomain, handler: IommuFaultHandler | undefined): void {
    domain.faultHandler = handler;
  }

  /**
   * Attaches a domain to the group of a single device (`iommu_attach_device`). EINVAL when the
   * group has more than one device (attach the group instead), plus the errors of {@link attachGroup}.
   */
  attachDevice(domain: IommuDomain, device: Device): KResult<void> {
    const group = this.groupOfDevice.get(device);
    if (group === undefined) return fail('ENODEV', `${device.name} is not behind an IOMMU`);
    if (group.devices.length !== 1) {
      return fail(
        'EINVAL',
        `${device.name} shares group ${group.id} with ${group.devices.length - 1} other device(s): attach the group`,
        {
          group: group.id,
          devices: group.deviceNames(),
        },
      );
    }
    return this.attachGroup(domain, group);
  }

  /** Detaches a domain from a single device's group (`iommu_detach_device`). */
  detachDevice(domain: IommuDomain, device: Device): KResult<void> {
    const group = this.groupOfDevice.get(device);
    if (group === undefined) return fail('ENODEV', `${device.name} is not behind an IOMMU`);
    return this.detachGroup(domain, group);
  }

  /**
   * Attaches a domain to a whole group (`iommu_attach_group`). The kernel rule: a group already
   * attached to a domain other than its default refuses with EBUSY (detach first, or use
   * {@link replaceGroupDomain}) — except on hardware that switches page tables on the fly (MSM).
   * Errors: EBUSY as above; EINVAL for an incompatible domain (other instance, other format, type the
   * hardware cannot do, existing mappings outside its aperture or over a reserved region); ENOSPC
   * when the instance has no free context.
   */
  attachGroup(domain: IommuDomain, group: IommuGroup): KResult<void> {
    if (group.domain === domain) return OK;
    if (group.domain !== group.defaultDomain && !group.instance.hw.switchOnTheFly) {
      return fail(
        'EBUSY',
        `group ${group.id} is already attached to ${group.domain.describe()}; detach it first`,
        {
          group: group.id,
          current: group.domain.id,
        },
      );
    }
    return this.replaceGroupDomain(group, domain);
  }

  /**
   * Switches a group to `domain` in one step (`iommu_group_replace_domain`): the devices never see
   * an unattached moment. Errors as {@link attachGroup} except EBUSY.
   */
  replaceGroupDomain(group: IommuGroup, domain: IommuDomain): KResult<void> {
    if (group.domain === domain) return OK;
    const problem = this.compatibility(domain, group);
    if (problem !== undefined) return problem;
    const old = group.domain;
    const switched = this.switchDomain(group, old, domain);
    if (E.isLeft(switched)) return switched;
    this.narrow(domain, group.instance);
    this.emitAttach(domain, group, old.id);
    return OK;
  }

  /**
   * Detaches `domain` from a group (`iommu_detach_group`): the group returns to its default domain.
   * EINVAL when the group is not attached to `domain`.
   */
  detachGroup(domain: IommuDomain, group: IommuGroup): KResult<void> {
    if (group.domain !== domain || domain === group.defaultDomain) {
      return fail('EINVAL', `group ${group.id} is not attached to ${domain.describe()}`);
    }
    const switched = this.switchDomain(group, domain, group.defaultDomain);
    if (E.isLeft(switched)) return switched;
    this.bus.emit('detach', {
      domain: domain.id,
      group: group.id,
      devices: group.deviceNames(),
      restored: group.defaultDomain.id,
    });
    return OK;
  }

  /**
   * Moves a group from one domain to another: the old domain gives up its context first (an MSM
   * instance has only one), then the new one takes one; on failure the old one is restored.
   */
  private switchDomain(group: IommuGroup, from: IommuDomain, to: IommuDomain): KResult<void> {
    this.dropGroup(from, group);
    const held = this.takeContext(to, group.instance);
    if (E.isLeft(held)) {
      this.addGroup(from, group);
      return held;
    }
    to.groups.add(group);
    group.domain = to;
    return OK;
  }

  /** Called by translation on every fault: records it, emits it, asks the domain's handler. */
  reportFault(
    domain: IommuDomain,
    device: Device,
    iova: number,
    write: boolean,
    reason: IommuFaultReason,
    pasid: number,
  ): 'retry' | 'abort' {
    const fault: IommuFault = { device: device.name, domain: domain.id, iova, write, reason, pasid };
    const verdict = domain.faultHandler?.(fault) ?? 'abort';
    const handled = verdict === 'retry';
    this.faults.push({ ...fault, handled });
    this.bus.emit('fault', { ...fault, handled });
    return verdict;
  }

  /** Internal: domain allocation without the public argument checks. */
  private allocDomain(type: DomainType, instance: IommuInstance | undefined): KResult<IommuDomain> {
    const id = this.nextDomainId;
    const hw = instance?.hw;
    const format = hw?.format ?? 'arm-lpae-s1';
    const pgsizeBitmap = hw?.pgsizeBitmap ?? GENERIC_PGSIZES;
    const geometry: DomainGeometry = { apertureStart: 0, apertureEnd: pow2(hw?.iasBits ?? 48) - 1 };
    const tlb = new DomainTlb(id);
    let pgtable: ArmLpaeS1Pgtable | undefined;
    if (isPagingDomainType(type)) {
      if (format !== 'arm-lpae-s1')
        return fail('EINVAL', `${hw?.name} has no page tables for a ${type} domain`);
      const table = ArmLpaeS1Pgtable.alloc({
        ...this.deps.tables,
        memory: this.deps.memory,
        tlb,
        name: `io-pgtable:dom${id}`,
      });
      if (E.isLeft(table)) return table;
      pgtable = table.right;
    }
    const granule = lowestPgsize(pgsizeBitmap);
    // dma-iommu never hands out IOVA 0 (iommu_dma_init_domain: base_pfn = max(1, aperture_start >> order)).
    const iovad =
      type === 'dma' ? new IovaDomain(granule, Math.max(1, geometry.apertureStart / granule)) : undefined;
    this.nextDomainId += 1;
    const domain = new IommuDomain(
      id,
      type,
      instance,
      format,
      pgsizeBitmap,
      geometry,
      pgtable,
      iovad,
      tlb,
      this.bus,
    );
    this.bus.emit('domain-alloc', { domain: id, type, instance: instance?.name ?? null });
    return ok(domain);
  }

  /** Why `domain` cannot attach to `group`, or undefined when it can. */
  private compatibility(domain: IommuDomain, group: IommuGroup): KResult<void> | undefined {
    const hw = group.instance.hw;
    if (domain.freed) return fail('EINVAL', `${domain.describe()} was freed`);
    if (domain.type === 'sva') return fail('EINVAL', 'an SVA domain attaches at a PASID, through svaBind');
    if (!hw.domainTypes.includes(domain.type)) {
      return fail('EINVAL', `${hw.name} cannot attach a ${domain.type} domain`, {
        instance: hw.name,
        type: domain.type,
      });
    }
    if (domain.owner !== undefined && domain.owner !== group.instance) {
      return fail('EINVAL', `${domain.describe()} was allocated for ${domain.owner.name}, not ${hw.name}`, {
        domainInstance: domain.owner.name,
        groupInstance: hw.name,
      });
    }
    if (isPagingDomainType(domain.type)) {
      if (domain.format !== hw.format) {
        return fail(
          'EINVAL',
          `${hw.name} walks ${hw.format} tables; ${domain.describe()} is ${domain.format}`,
        );
      }
      if (domain.mappedEnd > pow2(hw.iasBits)) {
        return fail(
          'EINVAL',
          `${domain.describe()} maps IOVAs up to ${hex(domain.mappedEnd - 1)}, beyond the ${hw.iasBits}-bit input range of ${hw.name}`,
        );
      }
      for (const r of group.allResvRegions()) {
        if (!this.regionsFree(domain, [r])) {
          return fail(
            'EINVAL',
            `${domain.describe()} maps into reserved region ${hex(r.start)}+${hex(r.length)} of group ${group.id}`,
          );
        }
      }
    }
    return undefined;
  }

  /** True when no reserved region in `regions` holds a mapping of `domain`. */
  private regionsFree(domain: IommuDomain, regions: readonly ResvRegion[]): boolean {
    const table = domain.pgtable;
    if (table === undefined) return true;
    return regions.every((r) => {
      if (r.type === 'direct' && domain.type === 'dma') return true;
      for (let a = r.start; a < r.start + r.length; a += 4096) if (table.iovaToPhys(a) >= 0) return false;
      return true;
    });
  }

  /**
   * Reserved regions in a DMA default domain: every region is kept out of the IOVA allocator
   * (`iova_reserve_iommu_regions`), and direct regions are identity-mapped
   * (`iommu_create_device_direct_mappings`).
   */
  private applyResvRegions(domain: IommuDomain, regions: readonly ResvRegion[]): void {
    if (domain.type !== 'dma') return;
    const granule = lowestPgsize(domain.pgsizeBitmap);
    for (const r of regions) {
      const lo = Math.floor(r.start / granule);
      const hi = Math.floor((r.start + r.length - 1) / granule);
      domain.iovad?.reserveIova(lo, hi);
      if (r.type === 'direct') {
        for (let a = r.start; a < r.start + r.length; a += granule) {
          if (domain.pgtable!.iovaToPhys(a) < 0) domain.pgtable!.mapPages(a, a, granule, 1, r.prot ?? 3);
        }
      }
    }
  }

  /** Takes a context on `instance` for a paging domain, unless it already holds one there. */
  private takeContext(domain: IommuDomain, instance: IommuInstance): KResult<void> {
    if (!isPagingDomainType(domain.type) || instance.contexts.has(domain)) return OK;
    if (instance.contexts.size >= instance.hw.contexts) {
      return fail(
        'ENOSPC',
        `${instance.name} has no free translation context (${instance.hw.contexts} in use)`,
        {
          instance: instance.name,
          contexts: instance.hw.contexts,
        },
      );
    }
    instance.contexts.add(domain);
    domain.tlb.instances.add(instance);
    return OK;
  }

  private dropContext(domain: IommuDomain, instance: IommuInstance): void {
    if (!instance.contexts.delete(domain)) return;
    domain.tlb.instances.delete(instance);
    instance.iotlb.flushAsid(domain.id);
  }

  private dropGroup(domain: IommuDomain, group: IommuGroup): void {
    domain.groups.delete(group);
    const stillUsed = [...domain.groups].some((g) => g.instance === group.instance);
    if (!stillUsed) this.dropContext(domain, group.instance);
  }

  private addGroup(domain: IommuDomain, group: IommuGroup): void {
    domain.groups.add(group);
    this.takeContext(domain, group.instance);
  }

  /** A spanning domain takes the narrowest aperture and the common page sizes of its instances. */
  private narrow(domain: IommuDomain, instance: IommuInstance): void {
    if (domain.owner !== undefined || !isPagingDomainType(domain.type)) return;
    const end = Math.min(domain.geometry.apertureEnd, pow2(instance.hw.iasBits) - 1);
    domain.geometry = { apertureStart: domain.geometry.apertureStart, apertureEnd: end };
    const common = commonPgsizes(domain.pgsizeBitmap, instance.hw.pgsizeBitmap);
    if (common !== 0) domain.pgsizeBitmap = common;
  }

  private releaseDomain(domain: IommuDomain): void {
    for (const i of [...domain.tlb.instances]) this.dropContext(domain, i);
    domain.pgtable?.free();
    domain.freed = true;
    this.bus.emit('domain-free', { domain: domain.id });
  }

  private emitAttach(domain: IommuDomain, group: IommuGroup, replaced: number | null): void {
    this.bus.emit('attach', { domain: domain.id, group: group.id, devices: group.deviceNames(), replaced });
  }
}
