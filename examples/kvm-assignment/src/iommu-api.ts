import { IOMMU_READ, IOMMU_WRITE, type IommuDomain, iommuMap, iommuUnmap } from '@sharedbuf/iommu';
import { type Device, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { CHUNK, type KvmHost } from './guest.js';
import { GuestDma, type ProbeResult, type ProbeSpec } from './probes.js';

/** The guest's one domain, seen from the IOMMU API. */
export interface IommuApiRun {
  /** The domain, described (allocated for no instance in particular). */
  readonly domain: string;
  /** Instances whose hardware walks the domain's one page table. */
  readonly instances: readonly string[];
  /** `iommu_map` calls that put guest RAM in place, for every device at once. */
  readonly mapCalls: number;
  readonly probes: readonly ProbeResult[];
  readonly balloon: BalloonRun;
}

/** The guest gives a block back: one unmap, and what it took to make every IOMMU forget it. */
export interface BalloonRun {
  readonly gpa: number;
  readonly unmapped: number;
  /** IOTLB invalidations issued, per instance. */
  readonly flushes: readonly { readonly instance: string; readonly count: number }[];
  /** Each device's DMA to the block before it was returned (warming both IOTLBs). */
  readonly before: readonly { readonly device: string; readonly dma: string }[];
  /** Each device's DMA to the returned block afterwards. */
  readonly after: readonly { readonly device: string; readonly dma: string }[];
}

/**
 * KVM's device assignment through the IOMMU API (seed 001: "a domain currently would always span
 * all of the IOMMUs that can host virtualized devices"; VFIO type1 does the same today): one
 * unmanaged domain allocated without naming an IOMMU, both assigned devices attached to it though
 * they sit behind different SMMUs, and guest RAM mapped once with guest-physical addresses as IOVAs
 * (`iommu_map(domain, gpa, hpa, …)`). The guest's drivers then program GPAs into the devices.
 * @throws when a step the story depends on fails (a regression).
 */
export const assignWithIommuApi = (host: KvmHost, specs: readonly ProbeSpec[]): IommuApiRun => {
  const { iommu } = host.system;
  const domain = unwrap(iommu.domainAlloc('unmanaged'));
  for (const dev of host.assigned) unwrap(iommu.attachDevice(domain, dev));
  let mapCalls = 0;
  for (const c of host.guest.chunks) {
    unwrap(iommuMap(domain, c.gpa, c.hpa, c.size, IOMMU_READ | IOMMU_WRITE));
    mapCalls += 1;
  }
  const run = new GuestDma(host.system, host.guest, specs);
  run.prepare();
  run.access();
  const probes = run.verify();
  const instances = [...domain.instances].map((i) => i.name);
  const balloon = balloonOut(host, domain, host.guest.size - CHUNK);
  for (const dev of host.assigned) unwrap(iommu.detachDevice(domain, dev));
  unwrap(iommu.domainFree(domain));
  return { domain: domain.describe(), instances, mapCalls, probes, balloon };
};

/**
 * The guest balloons out the block at `gpa`: both devices touch it first (so both IOTLBs cache it),
 * then one `iommu_unmap` on the shared domain invalidates it on every instance walking the domain,
 * and neither device reaches it any more.
 */
const balloonOut = (host: KvmHost, domain: IommuDomain, gpa: number): BalloonRun => {
  const { iommu } = host.system;
  const touch = (dev: Device) => {
    const r = dev.dmaRead(gpa, new Uint8Array(8), 0, 8);
    return E.isRight(r) ? 'ok' : `fault: ${r.left.code}`;
  };
  const before = host.assigned.map((dev) => ({ device: dev.name, dma: touch(dev) }));
  const counts = new Map<string, number>();
  const stop = iommu.bus.on('flush', (e) => counts.set(e.instance, (counts.get(e.instance) ?? 0) + 1));
  const unmapped = iommuUnmap(domain, gpa, CHUNK);
  stop();
  const flushes = [...counts].map(([instance, count]) => ({ instance, count }));
  const after = host.assigned.map((dev) => ({ device: dev.name, dma: touch(dev) }));
  return { gpa, unmapped, flushes, before, after };
};
