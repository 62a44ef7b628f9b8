import type { JobRecord } from './engine.js';
import type { CameraPipelineResult, FrameChecksums } from './pipeline-result.js';

/** The pipeline's promises, each checked against a run's record. */
export interface PipelineVerdict {
  /** Every stage saw the bytes the stage before it sent, and the ISP output equals the reference. */
  readonly framesIntact: boolean;
  /** The display's late attach moved every processed buffer (nothing refused). */
  readonly migrated: boolean;
  /** The bytes each moved buffer held read back identically through the display's new mapping. */
  readonly bytesPreserved: boolean;
  /** Every job started no earlier than the fences it waited for signalled, and every data dependency held. */
  readonly fencesOrdered: boolean;
  /** DMA debug found nothing and no mapping outlived the teardown. */
  readonly dmaDebugClean: boolean;
  /** Dependencies that did not hold, in words (empty when `fencesOrdered`). */
  readonly orderViolations: readonly string[];
}

/** Whether a frame's checksums agree from the camera to every reader. */
export const frameIntact = (f: FrameChecksums): boolean =>
  f.camera === f.ispIn &&
  f.ispOut === f.expected &&
  f.encoder === f.ispOut &&
  (f.display === null || f.display === f.ispOut);

/** The jobs that must complete before another may start, by what they do to which frame. */
const dependencies = (r: CameraPipelineResult): [string, number, string, number][] =>
  r.frames.flatMap((f) => {
    const i = f.frame;
    const deps: [string, number, string, number][] = [
      ['capture', i, 'process', i], // the ISP reads what the camera wrote
      ['process', i, 'encode', i], // the encoder reads what the ISP wrote
      ['process', i, 'scanout', i],
      ['process', i, 'capture', i + 2], // the camera refills a raw buffer only after the ISP read it
      ['encode', i, 'process', i + 2], // the ISP rewrites a processed buffer only after its readers
      ['scanout', i, 'process', i + 2],
    ];
    return deps;
  });

const orderViolations = (r: CameraPipelineResult): string[] => {
  const byKey = new Map<string, JobRecord>(r.jobs.map((j) => [`${j.what}:${j.frame}`, j]));
  const out: string[] = [];
  for (const j of r.jobs) {
    for (const w of j.waitedFor) {
      if (!(w.signalledAt <= j.start)) out.push(`${j.fence} started before ${w.fence} signalled`);
    }
  }
  for (const [a, fa, b, fb] of dependencies(r)) {
    const first = byKey.get(`${a}:${fa}`);
    const then = byKey.get(`${b}:${fb}`);
    if (first && then && first.end > then.start)
      out.push(`${then.fence} (${b} ${fb}) started before ${first.fence} (${a} ${fa}) signalled`);
  }
  return out;
};

/** Checks a run's record against everything the pipeline promises. */
export const checkCameraPipeline = (r: CameraPipelineResult): PipelineVerdict => {
  const violations = orderViolations(r);
  return {
    framesIntact: r.frames.length > 0 && r.frames.every(frameIntact),
    migrated:
      r.migrations.length > 0 &&
      r.migrations.every(
        (m) => m.moveNotify.length > 0 && m.after.views.some((v) => v.device === m.newcomer),
      ),
    bytesPreserved: r.migrations.every((m) => m.checksumBefore === m.checksumAfter),
    fencesOrdered: violations.length === 0,
    dmaDebugClean: r.dmaDebug.findings.length === 0 && r.dmaDebug.activeAfterTeardown === 0,
    orderViolations: violations,
  };
};
