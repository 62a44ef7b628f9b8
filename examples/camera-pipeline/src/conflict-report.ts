import type { ConflictCertificate, ConstraintValue } from '@sharedbuf/dma-buf';
import { formatCrc } from './checksum.js';
import type { ConflictVariantResult } from './conflict.js';
import { heading, range, size, wrap } from './text.js';

const value = (v: ConstraintValue | undefined): string =>
  v === undefined || v === null ? '—' : Array.isArray(v) ? v.join(', ') : String(v);

const bullets = (lines: readonly string[], indent: string): string[] =>
  lines.flatMap((why) =>
    wrap(why, `${indent}  `).map((l, i) => (i === 0 ? `${indent}- ${l.trimStart()}` : l)),
  );

const certificate = (c: ConflictCertificate, errorMessage: string): string[] => [
  '  The conflict certificate (detail.certificate of the error):',
  `    field:       ${c.field}`,
  `    imposed by:  ${c.imposedBy.map((i) => `${i.attacher} (${value(i.value)})`).join(', ')}`,
  `    combined:    ${value(c.combined)}`,
  `    buffer size: ${size(c.size)} (page-aligned)`,
  ...(c.heap === undefined ? [] : [`    heap:        ${c.heap}`]),
  ...(c.required === undefined ? [] : [`    required:    ${c.required}`]),
  ...(c.available === undefined ? [] : [`    available:   ${value(c.available)}`]),
  '    heaps tried:',
  ...bullets(
    c.heapsTried.map((h) => `${h.heap} (${h.field}): ${h.reason}`),
    '      ',
  ),
  ...(c.message === errorMessage
    ? ['    its sentence: the error message above']
    : ['    its sentence:', ...wrap(c.message, '      ')]),
];

const unchanged = (r: ConflictVariantResult): string[] => {
  const same =
    r.sameBacking && r.mappingsValid && r.moveNotify.length === 0 && r.checksumBefore === r.checksumAfter;
  return [
    `  Nothing changed${same ? '' : ' — EXCEPT:'}:`,
    `    backing:      ${r.sameBacking ? 'the same object' : 'REPLACED'} (heap '${r.after.placement.heap}', ${r.after.placement.runs} runs, ${range(r.after.placement.lowest, r.after.placement.highest)})`,
    `    mappings:     isp and encoder ${r.mappingsValid ? 'still valid' : 'INVALIDATED'}; move_notify calls: ${r.moveNotify.length}`,
    `    frame bytes:  CRC ${formatCrc(r.checksumWritten)} written by the ISP, ${formatCrc(r.checksumBefore)} read by the encoder before, ${formatCrc(r.checksumAfter)} after`,
  ];
};

const remedy = (r: ConflictVariantResult): string[] => {
  const w = r.withoutRestriction;
  if (w.plan === null)
    return ['  Without the heap restriction the planner refuses too:', ...wrap(w.error ?? '', '    ')];
  return [
    `  What would work: for the same three devices, without the exporter's heap restriction, the planner`,
    `  (dmabuf.plan, which allocates nothing) picks heap '${w.plan.heap}':`,
    ...bullets(w.plan.reasons, '    '),
  ];
};

/**
 * The conflict variant as a report: the buffer and who streams it, the refusal with its errno and
 * certificate (field, attachers, heaps tried, the sentence), proof that nothing changed, and the
 * backing the planner would choose without the conflicting restriction.
 */
export const formatConflictVariantReport = (r: ConflictVariantResult): string => {
  const views = r.before.views.map((v) => `${v.device} ${v.segments} segment(s)`).join(', ');
  return [
    ...heading(
      `Conflict variant: ${r.width}×${r.height} NV12 frames from the ${r.permittedHeaps.join(' / ')} heap only`,
    ),
    `${r.buffer}: ${size(r.size)}, exported with permitted heaps: ${r.permittedHeaps.join(', ')}`,
    '(as when a camera HAL allocates its buffers from /dev/dma_heap/system).',
    `While the ISP and encoder stream: heap '${r.before.placement.heap}', ${r.before.placement.runs} runs; ${views}.`,
    '',
    `The display attaches (one contiguous range below 1 GiB, no bouncing) → ${r.refusal ? `refused: ${r.refusal.code}` : 'ACCEPTED'}`,
    ...(r.refusal ? wrap(r.refusal.message, '  ') : []),
    ...(r.certificate ? ['', ...certificate(r.certificate, r.refusal?.message ?? '')] : []),
    '',
    ...unchanged(r),
    '',
    ...remedy(r),
  ].join('\n');
};
