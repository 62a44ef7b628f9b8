import { section, size, table } from '@sharedbuf/example-kit';
import { hex } from '@sharedbuf/platform';
import type { TegraNvMapResult } from './index.js';
import type { IovaLayoutEntry } from './iova-layout.js';

const layoutRows = (layout: readonly IovaLayoutEntry[]) =>
  table(
    ['IOVA', 'end', 'size', 'owner', 'placed by', 'device reads'],
    layout.map((e) => [
      hex(e.iova),
      hex(e.iova + e.size - 1),
      size(e.size),
      e.owner,
      e.via,
      `"${e.deviceReads}"`,
    ]),
  );

/** The run as a report: both IOVA layouts, the refusals, and what each way costs. */
export const formatTegraNvMapReport = (r: TegraNvMapResult): string => {
  const title = 'Tegra NvMap: fixed IOVAs beside DMA API allocations (seed 004)';
  const lines = [title, '='.repeat(title.length)];

  const n = r.nvmap;
  lines.push(...section(`1. DMA API extensions (iova_alloc_at / map_page_at / iova_alloc): ${n.device}`));
  lines.push(
    `  ${n.device} translates through ${n.domain}; its IOVA allocator starts at ${hex(n.allocatorFirstIova)}`,
    '  (pfn 1, as iommu_dma_init_domain: a DMA domain never hands out IOVA 0).',
    '',
    ...layoutRows(n.layout),
    '',
    `  overlapping ranges: ${n.overlaps.length === 0 ? 'none' : n.overlaps.map((o) => o.join(' / ')).join(', ')}`,
    `  ranges unknown to the DMA domain's allocator: ${n.unknownToAllocator.length === 0 ? 'none' : n.unknownToAllocator.join(', ')}`,
  );
  lines.push('', '  Placements NvMap was refused:');
  for (const x of n.refused) {
    lines.push(
      `    ${x.what} (${hex(x.iova)}+${size(x.size)}): ${x.refusal.code}`,
      `      ${x.refusal.message}`,
    );
  }

  const i = r.iommuApi;
  lines.push(...section(`2. IOMMU API with a carved range (as drivers/gpu/drm/tegra/drm.c): ${i.device}`));
  lines.push(
    `  ${i.device} is attached to ${i.domain}: no allocator, so IOVA 0 is the driver's to map.`,
    `  The driver's own iova_domain covers ${hex(i.carve.start)}..${hex(i.carve.end)} for anonymous buffers.`,
    '',
    ...layoutRows(i.layout),
    '',
    `  overlapping ranges: ${i.overlaps.length === 0 ? 'none' : i.overlaps.map((o) => o.join(' / ')).join(', ')}`,
  );

  lines.push(...section('DMA debug'));
  lines.push(...(r.debugFindings.length === 0 ? ['  no findings'] : r.debugFindings.map((f) => `  ${f}`)));
  return lines.join('\n');
};
