import type { AttacherConstraints } from './attacher-constraints.js';
import type { BackingPlan } from './backing-plan.js';
import type { CombinedConstraints } from './combined-constraints.js';
import type { ConflictCertificate, HeapAttempt } from './conflict-certificate.js';
import { byPreference, type HeapCapabilities, SYSTEM_HEAP_CHUNK_SIZES } from './heap-capabilities.js';
import type { HeapFailure } from './heap-outcome.js';
import { buildPlan } from './plan-assembly.js';
import { buildContext } from './plan-context.js';
import { evaluateContiguous } from './plan-contiguous.js';
import { evaluateScatter } from './plan-scatter.js';
import { formatBytes, formatNames, verb } from './units.js';

/** A planning attempt: a plan, or the certificate and errno of the refusal. */
export type Attempt =
  | { readonly ok: true; readonly plan: BackingPlan }
  | { readonly ok: false; readonly code: 'ENOMEM' | 'EINVAL'; readonly certificate: ConflictCertificate };

/** A refused attempt. */
export const refuse = (code: 'ENOMEM' | 'EINVAL', certificate: ConflictCertificate): Attempt => ({
  ok: false,
  code,
  certificate,
});

/** Splits the heaps into those the combination allows and the reasons the others are skipped. */
const filterHeaps = (combined: CombinedConstraints, heaps: readonly HeapCapabilities[]) => {
  const permitted = combined.permittedHeaps.value;
  const requires = combined.requiresProtected.value;
  const candidates: HeapCapabilities[] = [];
  const skipped: HeapAttempt[] = [];
  for (const h of byPreference(heaps)) {
    if (permitted !== null && !permitted.includes(h.name)) {
      skipped.push({
        heap: h.name,
        field: 'permittedHeaps',
        reason: `heap '${h.name}' is not among the heaps ${formatNames(combined.permittedHeaps.imposedBy)} ${verb(combined.permittedHeaps.imposedBy, 'permits', 'permit')}`,
      });
    } else if (requires !== h.protected) {
      const reason = requires
        ? `heap '${h.name}' has no protected memory, which ${formatNames(combined.requiresProtected.imposedBy)} ${verb(combined.requiresProtected.imposedBy, 'requires', 'require')}`
        : `heap '${h.name}' holds protected memory, which no attacher asked for`;
      skipped.push({ heap: h.name, field: 'protected', reason });
    } else candidates.push(h);
  }
  return { candidates, skipped };
};

const noHeapLeft = (
  size: number,
  combined: CombinedConstraints,
  skipped: readonly HeapAttempt[],
): Attempt => {
  const byList = skipped.length === 0 || skipped.every((a) => a.field === 'permittedHeaps');
  const field = byList ? 'permittedHeaps' : 'protected';
  const binding = byList ? combined.permittedHeaps : combined.requiresProtected;
  const imposedBy = byList
    ? combined.attachers
        .filter((c) => c.permittedHeaps !== undefined)
        .map((c) => ({ attacher: c.attacher, value: c.permittedHeaps ?? [] }))
    : binding.imposedBy.map((attacher) => ({ attacher, value: true }));
  const detail = skipped.length === 0 ? 'no heaps were offered' : skipped.map((a) => a.reason).join('; ');
  return refuse('EINVAL', {
    field,
    size,
    imposedBy,
    combined: binding.value,
    available: skipped.map((a) => a.heap),
    heapsTried: skipped,
    message: `no heap can hold the buffer: ${detail}`,
  });
};

/** The other heaps' verdicts, so the sentence covers every heap the author could act on. */
const others = (chosen: HeapFailure, tried: readonly HeapAttempt[]): string[] =>
  tried.filter((a) => a.heap !== chosen.heap).map((a) => a.reason);

const toCertificate = (
  size: number,
  f: HeapFailure,
  heapsTried: readonly HeapAttempt[],
): ConflictCertificate => ({
  field: f.field,
  size,
  imposedBy: f.imposedBy,
  combined: f.combined,
  ...(f.required === undefined ? {} : { required: f.required }),
  ...(f.available === undefined ? {} : { available: f.available }),
  heap: f.heap,
  heapsTried,
  message: [`no heap can hold the ${formatBytes(size)} buffer: ${f.message}`, ...others(f, heapsTried)].join(
    '; ',
  ),
});

/**
 * Tries the heaps in preference order; the first that can hold the buffer wins. Otherwise the
 * certificate is the first capacity failure (a heap of the right kind, short of memory), or failing
 * that the first structural one.
 */
export const planWith = (
  size: number,
  combined: CombinedConstraints,
  heaps: readonly HeapCapabilities[],
  bounced: ReadonlySet<AttacherConstraints>,
): Attempt => {
  const { candidates, skipped } = filterHeaps(combined, heaps);
  if (candidates.length === 0) return noHeapLeft(size, combined, skipped);
  const scatter = candidates.find((h) => !h.physicallyContiguous)?.chunkSizes ?? SYSTEM_HEAP_CHUNK_SIZES;
  const ctx = buildContext(
    size,
    combined,
    bounced,
    [...scatter].sort((a, b) => b - a),
  );
  const failures: HeapFailure[] = [];
  for (const heap of candidates) {
    const outcome = heap.physicallyContiguous ? evaluateContiguous(heap, ctx) : evaluateScatter(heap, ctx);
    const passedOver = [
      ...skipped,
      ...failures.map((f) => ({ heap: f.heap, field: f.field, reason: f.message })),
    ];
    if (outcome.ok) return { ok: true, plan: buildPlan(ctx, combined, outcome.value, passedOver) };
    failures.push(outcome.failure);
  }
  const chosen = (failures.find((f) => !f.structural) ?? failures[0]) as HeapFailure;
  const tried = [...skipped, ...failures.map((f) => ({ heap: f.heap, field: f.field, reason: f.message }))];
  return refuse(chosen.structural ? 'EINVAL' : 'ENOMEM', toCertificate(size, chosen, tried));
};
