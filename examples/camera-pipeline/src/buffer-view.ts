import type { DmaBuf, SharedBufSystem } from '@sharedbuf/dma-buf';
import { dmaDirectionName } from '@sharedbuf/dma-mapping';
import { iommuIovaToPhys } from '@sharedbuf/iommu';
import { PAGE_SIZE } from '@sharedbuf/platform';
import type { BufferImport } from './buffer-import.js';

/** Where a buffer's bytes live. */
export interface Placement {
  readonly heap: string;
  /** Physically contiguous runs of the backing. */
  readonly runs: number;
  readonly lowest: number;
  /** Last byte of the highest run. */
  readonly highest: number;
  /** The runs form one physical range. */
  readonly contiguous: boolean;
}

/** What one device's mapping of a buffer looks like from the device. */
export interface DeviceView {
  readonly device: string;
  /** `DMA_TO_DEVICE` or `DMA_FROM_DEVICE`. */
  readonly direction: string;
  /** `iommu`: the addresses are IOVAs; `direct`: bus addresses of physical memory. */
  readonly path: 'iommu' | 'direct';
  readonly segments: number;
  readonly dmaStart: number;
  /** Last DMA address of the highest segment. */
  readonly dmaLast: number;
  /** Physical address the first DMA address resolves to (-1 when it resolves nowhere). */
  readonly firstPhys: number;
  readonly largestSegment: number;
  /** Every page the device addresses resolves into the buffer's backing. */
  readonly inBacking: boolean;
  /** Some page resolves into the swiotlb pool: the device would be handed a bounce copy. */
  readonly bounced: boolean;
}

/** A buffer at one moment: placement, negotiated constraints, the plan's reasons, the devices' views. */
export interface BufferSnapshot {
  readonly placement: Placement;
  /** `DmaBuf.explain()`: the combined constraints, one line per field. */
  readonly constraints: readonly string[];
  /** The backing plan's reasons. */
  readonly reasons: readonly string[];
  readonly views: readonly DeviceView[];
}

/** The backing's placement. @throws when the buffer has no backing yet (a bug in the caller). */
export const placementOf = (buf: DmaBuf): Placement => {
  const backing = buf.backing;
  if (backing === undefined) throw new Error(`${buf.name} has no backing yet`);
  const runs = [...backing.runs].sort((a, b) => a.phys - b.phys);
  const contiguous = runs.every((r, i) => i === 0 || runs[i - 1]!.phys + runs[i - 1]!.length === r.phys);
  return {
    heap: backing.heap,
    runs: runs.length,
    lowest: runs[0]?.phys ?? 0,
    highest: runs.reduce((m, r) => Math.max(m, r.phys + r.length - 1), 0),
    contiguous,
  };
};

/**
 * The device's view of its current mapping: its DMA segments, and where each page of them lands —
 * resolved in software (`iommu_iova_to_phys` behind the IOMMU, bus address + `dma-ranges` offset
 * without), so looking does not touch the IOTLB or DMA debug.
 * @throws when the import is not mapped (a bug in the caller).
 */
export const deviceView = (sys: SharedBufSystem, imp: BufferImport): DeviceView => {
  const sgt = imp.current;
  if (sgt === undefined) throw new Error(`${imp.device.name} has no mapping of ${imp.buf.name}`);
  const dev = imp.device;
  const runs = imp.buf.backing?.runs ?? [];
  const viaIommu = sys.dma.opsKind(dev) === 'iommu';
  const domain = viaIommu ? sys.iommu.domainOf(dev) : undefined;
  const pool = sys.swiotlb;
  const toPhys = (addr: number): number =>
    domain ? iommuIovaToPhys(domain, addr) : addr + dev.dmaRangeOffset;
  let dmaStart = Number.POSITIVE_INFINITY;
  let dmaLast = 0;
  let largest = 0;
  let inBacking = true;
  let bounced = false;
  for (let i = 0; i < sgt.nents; i++) {
    const addr = sgt.dmaAddress(i);
    const len = sgt.dmaLength(i);
    dmaStart = Math.min(dmaStart, addr);
    dmaLast = Math.max(dmaLast, addr + len - 1);
    largest = Math.max(largest, len);
    for (let off = 0; off < len; off += PAGE_SIZE) {
      const phys = toPhys(addr + off);
      inBacking &&= runs.some((r) => phys >= r.phys && phys < r.phys + r.length);
      bounced ||= pool !== undefined && phys >= pool.start && phys < pool.end;
    }
  }
  return {
    device: dev.name,
    direction: dmaDirectionName(imp.dir),
    path: viaIommu ? 'iommu' : 'direct',
    segments: sgt.nents,
    dmaStart: sgt.nents > 0 ? dmaStart : 0,
    dmaLast,
    firstPhys: sgt.nents > 0 ? toPhys(sgt.dmaAddress(0)) : -1,
    largestSegment: largest,
    inBacking,
    bounced,
  };
};

/** The buffer now, seen by every import that holds a live mapping. */
export const snapshotBuffer = (
  sys: SharedBufSystem,
  buf: DmaBuf,
  imports: readonly BufferImport[],
): BufferSnapshot => ({
  placement: placementOf(buf),
  constraints: buf.explain(),
  reasons: [...(buf.plan?.reasons ?? [])],
  views: imports.filter((i) => i.buf === buf && i.current !== undefined).map((i) => deviceView(sys, i)),
});
