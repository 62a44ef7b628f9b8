import { fail, hex, type KResult, ok } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { iommuPgsize, type PgsizeSplit } from '../io-pgtable/iommu-pgsize.js';
import { IotlbGather } from '../iotlb/iotlb-gather.js';
import { isPagingDomainType } from './domain-type.js';
import type { IommuDomain } from './iommu-domain.js';
import { lowestPgsize } from './page-sizes.js';

const OK: KResult<void> = ok(undefined);
/** Reused by the map and unmap loops, which run one step at a time. */
const step: PgsizeSplit = { pgsize: 0, count: 0 };

/**
 * `iommu_map`: maps `[iova, iova + size)` to `[paddr, …)` with IOMMU_* `prot`, splitting the range
 * into the largest page sizes the domain's bitmap and the alignment of both addresses allow
 * (`iommu_pgsize`, drivers/iommu/iommu.c). A failure part-way unmaps what this call mapped, so a
 * failed call leaves the domain as it was.
 *
 * Errors: EINVAL for a non-paging or freed domain, or iova/paddr/size not aligned to the smallest
 * page size ("unaligned"), or a range over a reserved region of an attached device (VFIO's rule);
 * ERANGE outside the domain's aperture; EEXIST over an existing mapping; ENOMEM for table pages.
 * A size of 0 maps nothing and succeeds, as in Linux.
 */
export const iommuMap = (
  domain: IommuDomain,
  iova: number,
  paddr: number,
  size: number,
  prot: number,
): KResult<void> => {
  const refused = checkMap(domain, iova, paddr, size);
  if (refused !== undefined) return refused;
  const table = domain.pgtable!;
  let done = 0;
  while (done < size) {
    iommuPgsize(domain.pgsizeBitmap, iova + done, paddr + done, size - done, step);
    const mapped = table.mapPages(iova + done, paddr + done, step.pgsize, step.count, prot);
    if (E.isLeft(mapped)) {
      if (done > 0) iommuUnmap(domain, iova, done);
      return mapped;
    }
    done += mapped.right;
  }
  domain.mappedEnd = Math.max(domain.mappedEnd, iova + size);
  if (domain.bus.active) domain.bus.emit('map', { domain: domain.id, iova, paddr, size, prot });
  return OK;
};

const checkMap = (
  domain: IommuDomain,
  iova: number,
  paddr: number,
  size: number,
): KResult<void> | undefined => {
  if (domain.freed || !isPagingDomainType(domain.type)) {
    return fail('EINVAL', `cannot map into ${domain.describe()}: not a live paging domain`);
  }
  const min = lowestPgsize(domain.pgsizeBitmap);
  const bad = [iova, paddr, size].some((x) => !Number.isSafeInteger(x) || x < 0 || x % min !== 0);
  if (bad) {
    return fail(
      'EINVAL',
      `unaligned: iova ${hex(iova)} pa ${hex(paddr)} size ${hex(size)} min_pagesz ${hex(min)}`,
      {
        iova,
        paddr,
        size,
        minPagesz: min,
      },
    );
  }
  const { apertureStart, apertureEnd } = domain.geometry;
  if (size > 0 && (iova < apertureStart || iova + size - 1 > apertureEnd)) {
    return fail(
      'ERANGE',
      `${hex(iova)}+${hex(size)} is outside the aperture ${hex(apertureStart)}..${hex(apertureEnd)} of ${domain.describe()}`,
      {
        iova,
        size,
        apertureStart,
        apertureEnd,
      },
    );
  }
  for (const group of domain.groups) {
    const hit = group.resvOverlap(iova, size);
    if (hit) {
      return fail(
        'EINVAL',
        `${hex(iova)}+${hex(size)} overlaps the ${hit.type} reserved region ${hex(hit.start)}+${hex(hit.length)} of group ${group.id}`,
        {
          iova,
          size,
          region: { ...hit },
        },
      );
    }
  }
  return undefined;
};

/**
 * `iommu_unmap_fast`: unmaps from `iova` up to `size` bytes, stopping at the first hole, and queues
 * the IOTLB invalidations into `gather` without issuing them. Returns the bytes unmapped; 0 for an
 * unaligned request, a hole at `iova`, or part of a block mapping (current io-pgtable-arm refuses to
 * split blocks). Until {@link iommuIotlbSync}, devices may still reach the unmapped pages.
 */
export const iommuUnmapFast = (
  domain: IommuDomain,
  iova: number,
  size: number,
  gather: IotlbGather,
): number => {
  if (domain.freed || !isPagingDomainType(domain.type)) return 0;
  const min = lowestPgsize(domain.pgsizeBitmap);
  if (iova % min !== 0 || size % min !== 0 || size <= 0) return 0;
  const table = domain.pgtable!;
  let done = 0;
  while (done < size) {
    iommuPgsize(domain.pgsizeBitmap, iova + done, iova + done, size - done, step);
    const n = table.unmapPages(iova + done, step.pgsize, step.count, gather);
    if (n === 0) break;
    done += n;
  }
  if (domain.bus.active) domain.bus.emit('unmap', { domain: domain.id, iova, size, unmapped: done });
  return done;
};

/** `iommu_unmap`: {@link iommuUnmapFast} followed by the IOTLB sync. Returns the bytes unmapped. */
export const iommuUnmap = (domain: IommuDomain, iova: number, size: number): number => {
  const gather = iommuIotlbGatherInit(domain);
  const done = iommuUnmapFast(domain, iova, size, gather);
  iommuIotlbSync(domain, gather);
  return done;
};

/** `iommu_iotlb_gather_init` for a domain: an empty gather whose sync reaches every instance. */
export const iommuIotlbGatherInit = (domain: IommuDomain): IotlbGather =>
  new IotlbGather(domain.tlb, domain.id);

/** `iommu_iotlb_sync`: issues the gathered invalidation once, on every instance walking the domain. */
export const iommuIotlbSync = (domain: IommuDomain, gather: IotlbGather): void => {
  if (gather.empty) return;
  const start = gather.start;
  const end = gather.end;
  gather.sync();
  if (domain.bus.active) {
    for (const i of domain.instances) {
      domain.bus.emit('flush', { instance: i.name, domain: domain.id, start, end, all: false });
    }
  }
};

/** `iommu_flush_iotlb_all`: drops every cached translation of the domain. */
export const iommuFlushIotlbAll = (domain: IommuDomain): void => {
  domain.tlb.tlbFlushAll();
  if (!domain.bus.active) return;
  for (const i of domain.instances) {
    domain.bus.emit('flush', { instance: i.name, domain: domain.id, start: 0, end: 0, all: true });
  }
};

/**
 * `iommu_iova_to_phys`: what `iova` translates to in software's view (the tables, not the IOTLB);
 * -1 when unmapped. Identity domains translate to the address itself.
 */
export const iommuIovaToPhys = (domain: IommuDomain, iova: number): number => {
  if (domain.type === 'identity') return iova;
  return domain.pgtable?.iovaToPhys(iova) ?? -1;
};
