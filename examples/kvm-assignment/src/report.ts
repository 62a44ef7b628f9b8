import { section, size, table } from '@sharedbuf/example-kit';
import { hex } from '@sharedbuf/platform';
import type { KvmAssignmentResult } from './index.js';
import type { ProbeResult } from './probes.js';

const probeRows = (probes: readonly ProbeResult[]) =>
  table(
    ['device', 'access', 'GPA (= IOVA)', 'host page', 'DMA', 'reached the host page'],
    probes.map((p) => [
      p.device,
      p.access,
      hex(p.gpa),
      p.hpa === null ? 'outside guest RAM' : hex(p.hpa),
      p.dma,
      p.reachedHostPage ? 'yes' : 'no',
    ]),
  );

/** The run as a report: guest layout, the two ways of assigning devices side by side, the capability check. */
export const formatKvmAssignmentReport = (r: KvmAssignmentResult): string => {
  const title = 'KVM device assignment: guest-physical addresses as IOVAs (seeds 000, 001)';
  const lines = [title, '='.repeat(title.length)];

  lines.push(...section('Guest RAM (guest-physical -> host-physical, 2 MiB host blocks)'));
  lines.push(
    ...table(
      ['GPA', 'HPA', 'size'],
      r.guestRam.map((c) => [`${hex(c.gpa)}..${hex(c.gpa + c.size - 1)}`, hex(c.hpa), size(c.size)]),
    ),
  );
  lines.push(
    '',
    ...r.assigned.map((a) => `  assigned: ${a.device} behind ${a.iommu} (stream ${hex(a.streamId)})`),
  );

  const i = r.iommuApi;
  lines.push(...section('1. IOMMU API: one domain for the guest, spanning every SMMU'));
  lines.push(
    `  iommu_domain_alloc() -> ${i.domain}, no IOMMU named`,
    `  attached to both devices; walked by: ${i.instances.join(', ')}`,
    `  iommu_map(domain, GPA, HPA, 2 MiB) x ${i.mapCalls}: guest RAM is mapped once for every device`,
    '',
    ...probeRows(i.probes),
  );
  const b = i.balloon;
  lines.push(
    '',
    `  balloon: the guest returns ${hex(b.gpa)}+${size(b.unmapped)}; one iommu_unmap invalidates ` +
      b.flushes.map((f) => `${f.instance} (${f.count}x)`).join(' and '),
    `  DMA there before: ${b.before.map((a) => `${a.device} ${a.dma}`).join(', ')}; ` +
      `after: ${b.after.map((a) => `${a.device} ${a.dma}`).join(', ')}`,
  );

  const d = r.dmaApi;
  lines.push(
    ...section('2. DMA API with DMA_ATTR_FIXED_MAPPING (the seed-000 proposal): one domain per device'),
  );
  lines.push(
    ...table(
      ['device', 'supportsFixedMapping', 'its DMA domain', 'chunks mapped', 'refused'],
      d.devices.map((x) => [
        x.device,
        x.supportsFixedMapping ? 'yes' : 'no',
        x.domain,
        String(x.mapped),
        x.refused.map((f) => `${hex(f.gpa)}: ${f.refusal.code}`).join(', ') || '-',
      ]),
    ),
  );
  const refusal = d.devices.flatMap((x) => x.refused)[0];
  if (refusal !== undefined) {
    lines.push(
      '',
      `  ${hex(refusal.gpa)} refused: ${refusal.refusal.message}`,
      "  (dma-iommu's IOVA allocator never hands out IOVA 0 — iommu_dma_init_domain starts it at pfn 1 —",
      '  so guest RAM at GPA 0 cannot sit at its own address in a DMA domain; the IOMMU API has no allocator.)',
    );
  }
  const attrs = d.skipCpuSync ? 'FIXED_MAPPING | SKIP_CPU_SYNC' : 'FIXED_MAPPING';
  lines.push(
    '',
    `  dma_map_page_attrs(…, ${attrs}) x ${d.mapCalls}: every device needs its own copy of guest RAM`,
    '',
    ...probeRows(d.probes),
  );

  const c = r.capability;
  lines.push(...section('3. The capability check on a device without an IOMMU'));
  lines.push(
    `  ${c.device}: DMA ops ${c.dmaOps}, supportsFixedMapping = ${c.supportsFixedMapping}`,
    `  fixed map anyway -> ${c.refusal.code}: ${c.refusal.message}`,
  );

  lines.push(...section('DMA debug'));
  lines.push(...(r.debugFindings.length === 0 ? ['  no findings'] : r.debugFindings.map((f) => `  ${f}`)));
  return lines.join('\n');
};
