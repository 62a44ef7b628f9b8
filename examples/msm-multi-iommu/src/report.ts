import { section, table } from '@sharedbuf/example-kit';
import { hex } from '@sharedbuf/platform';
import type { MsmMultiIommuResult } from './index.js';
import { PRIVATE_IOVA } from './private-tables.js';

const quote = (s: string) => `"${s}"`;
const dash = (v: string | number | null) => (v === null ? '-' : String(v));
const detail = (d: Readonly<Record<string, unknown>>) =>
  Object.entries(d)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');

/** The run as a report for a driver engineer: instances, lookups, switches, refusals, DMA API runs. */
export const formatMsmMultiIommuReport = (r: MsmMultiIommuResult): string => {
  const title = 'MSM: several System MMUs, each hard-wired to one device (seed 001)';
  const lines = [title, '='.repeat(title.length)];

  lines.push(...section('System MMU instances'));
  lines.push(
    ...table(
      ['instance', 'model', 'max devices', 'contexts', 'switch on the fly'],
      r.instances.map((i) => [
        i.name,
        i.model,
        String(i.maxDevices),
        String(i.contexts),
        i.switchOnTheFly ? 'yes' : 'no',
      ]),
    ),
  );

  lines.push(...section('The device pointer is the key to its IOMMU (after probe)'));
  lines.push(
    ...table(
      ['device', 'role', 'dev->iommu', 'stream', 'group', "group's IOMMU", 'domain', 'DMA ops'],
      r.lookups.map((l) => [
        l.device,
        r.masters.find((m) => m.device === l.device)?.role ?? '',
        dash(l.iommu),
        dash(l.streamId),
        dash(l.group),
        dash(l.groupInstance),
        dash(l.domain),
        l.dmaOps,
      ]),
    ),
  );
  const w = r.wiredRefusal;
  lines.push('', `  probe ${w.device} behind ${w.iommu}: ${w.refusal.code} — ${w.refusal.message}`);

  lines.push(...section(`One domain per IOMMU: the same IOVA ${hex(PRIVATE_IOVA)}, a different page each`));
  lines.push(
    ...table(
      ['device', 'IOMMU', 'domain (allocated for that IOMMU)', 'IOVA -> phys', 'device reads'],
      r.privateTables.map((t) => [
        t.device,
        t.iommu,
        t.domain,
        `${hex(t.iova)} -> ${hex(t.phys)}`,
        quote(t.read),
      ]),
    ),
  );

  const x = r.wrongIommu;
  lines.push(...section('A domain offered to a device behind another IOMMU'));
  lines.push(
    `  iommu_attach_device(${x.domain}, ${x.device}) -> ${x.refusal.code}`,
    `    ${x.refusal.message}`,
    `    detail: ${detail(x.refusal.detail)}`,
    `    ${x.device} translates through ${x.domainBefore} before and ${x.domainAfter} after` +
      (x.domainBefore === x.domainAfter ? ' (unchanged)' : ' (CHANGED)'),
  );

  lines.push(...section('GPU page table switched on the fly (one context on its System MMU)'));
  lines.push(
    ...table(
      ['#', 'call', 'active domain', 'left the context', `GPU reads at ${hex(PRIVATE_IOVA)}`, 'IOMMU fault'],
      r.gpuSwitch.map((s, i) => [
        String(i + 1),
        s.action,
        s.active,
        dash(s.replaced),
        quote(s.read),
        dash(s.fault),
      ]),
    ),
  );

  lines.push(...section('One driver routine on every device, through the DMA API (dma_map_page)'));
  lines.push(
    ...table(
      ['device', 'IOMMU', 'DMA ops', 'phys', 'DMA address', 'bounced', 'device reads'],
      r.driverRuns.map((d) => [
        d.device,
        dash(d.iommu),
        d.dmaOps,
        hex(d.phys),
        hex(d.dma),
        d.bounced ? 'yes' : 'no',
        quote(d.read),
      ]),
    ),
  );
  lines.push(
    '',
    '  The routine never names an IOMMU: each device leads to its own (same IOVA on every System MMU,',
    '  separate page tables); the ADM has none, so its high page is bounced below 4 GiB by swiotlb',
    '  (whose pool starts at physical 0: DMA address 0 is valid; the error value is DMA_MAPPING_ERROR).',
  );

  lines.push(...section('DMA debug'));
  lines.push(
    r.debugFindings.length === 0 ? '  no findings' : r.debugFindings.map((f) => `  ${f}`).join('\n'),
  );
  return lines.join('\n');
};
