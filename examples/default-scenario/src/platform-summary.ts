import type { SharedBufSystem } from '@sharedbuf/dma-buf';
import { formatMask, hex } from '@sharedbuf/platform';

const MiB = 2 ** 20;
const size = (n: number): string => {
  if (n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n % MiB === 0) return `${n / MiB} MiB`;
  return n % 1024 === 0 ? `${n / 1024} KiB` : hex(n);
};
const row = (kind: string, name: string, base: number, length: number): string =>
  `${`${kind} ${name}`.padEnd(18)} ${hex(base).padStart(12)} .. ${hex(base + length - 1).padStart(12)}  ${size(length)}`;

/** What the machine is: RAM, reserved regions, cache, IOMMUs and every device's DMA limits. */
export interface PlatformSummary {
  readonly lines: readonly string[];
}

/** Describes a system's machine for the report's first section. */
export const summarisePlatform = (sys: SharedBufSystem): PlatformSummary => {
  const { platform, iommu, dma } = sys;
  const lines: string[] = [];
  lines.push(
    `CPU: ${platform.arch} cache policy for streaming DMA; write-back cache of ${platform.cache.capacity} × 64-byte lines`,
  );
  for (const b of platform.memory.banks) lines.push(row('RAM', b.name, b.base, b.size));
  for (const c of platform.cma.values()) lines.push(row('CMA', c.name, c.base, c.size));
  for (const c of platform.carveouts.values()) lines.push(row('carveout', c.name, c.base, c.size));
  if (sys.swiotlb) lines.push(row('swiotlb', 'pool', sys.swiotlb.start, sys.swiotlb.end - sys.swiotlb.start));
  for (const i of iommu.listInstances())
    lines.push(
      `IOMMU ${i.name}: ${i.hw.model}, ${i.hw.iasBits}-bit input, ${i.hw.contexts} contexts, SVA ${i.hw.sva ? 'yes' : 'no'}`,
    );
  lines.push(
    '',
    'device       DMA ops   mask                 bus limit     max seg    boundary     coherent',
  );
  for (const d of platform.devices.list()) {
    const seg = size(d.dmaParms.maxSegmentSize);
    lines.push(
      `${d.name.padEnd(12)} ${dma.opsKind(d).padEnd(9)} ${formatMask(d.dmaMask).padEnd(20)} ${(d.busDmaLimit ? hex(d.busDmaLimit) : 'none').padEnd(13)} ${seg.padEnd(10)} ${hex(d.dmaParms.segmentBoundaryMask).padEnd(12)} ${d.coherent ? 'yes' : 'no'}`,
    );
  }
  return { lines };
};
