import { describe, expect, it } from 'vitest';
import {
  checkCameraPipeline,
  ENCODER_WINDOW,
  formatCameraPipelineReport,
  formatConflictVariantReport,
  runCameraPipeline,
  runConflictVariant,
} from '../src/index.js';

const KiB = 1024;
const GiB = 2 ** 30;
const result = runCameraPipeline();
const conflict = runConflictVariant();
const job = (what: string, frame: number) => {
  const j = result.jobs.find((x) => x.what === what && x.frame === frame);
  if (j === undefined) throw new Error(`no ${what} job for frame ${frame}`);
  return j;
};

describe('camera → ISP → encoder + display over dma-bufs', () => {
  it('every stage sees the same bytes, and the ISP output is the reference transform', () => {
    expect(result.frames).toHaveLength(6);
    for (const f of result.frames) {
      expect(f.ispIn).toBe(f.camera);
      expect(f.ispOut).toBe(f.expected);
      expect(f.encoder).toBe(f.ispOut);
      if (f.frame >= result.framesBeforeHotplug) expect(f.display).toBe(f.ispOut);
      else expect(f.display).toBeNull();
    }
    expect(new Set(result.frames.map((f) => f.camera)).size).toBe(6); // every frame differs
  });

  it('each buffer is placed where its devices reach it and mapped within each device’s limits', () => {
    const views = (name: string) => result.buffers.find((b) => b.name === name)!.negotiated.views;
    const camera = views('raw0').find((v) => v.device === 'camera')!;
    expect(camera.dmaLast).toBeLessThan(4 * GiB);
    const isp = views('raw0').find((v) => v.device === 'isp')!;
    expect(isp.path).toBe('iommu');
    expect(isp.largestSegment).toBeLessThanOrEqual(64 * KiB);
    const encoder = views('processed0').find((v) => v.device === 'encoder')!;
    expect(encoder.dmaLast).toBeLessThan(ENCODER_WINDOW);
    for (const b of result.buffers)
      for (const v of [...b.negotiated.views, ...b.final.views]) {
        expect(v.inBacking).toBe(true);
        expect(v.bounced).toBe(false);
      }
  });

  it('the late display attach migrates the processed buffers instead of being refused, and keeps their bytes', () => {
    expect(result.migrations.map((m) => m.buffer)).toEqual(['processed0', 'processed1']);
    for (const m of result.migrations) {
      expect(m.moveNotify.map((n) => n.device)).toEqual(['isp', 'encoder']);
      expect(m.before.placement.highest).toBeGreaterThanOrEqual(GiB);
      expect(m.after.placement).toMatchObject({ runs: 1, contiguous: true });
      expect(m.after.placement.highest).toBeLessThan(GiB);
      const display = m.after.views.find((v) => v.device === 'display')!;
      expect(display).toMatchObject({ path: 'direct', segments: 1, inBacking: true, bounced: false });
      expect(m.checksumAfter).toBe(m.checksumBefore);
      expect(m.checksumBefore).toBe(result.frames[m.frame]!.ispOut);
    }
  });

  it('consumers start only after the producer’s fence signalled (implicit sync through dma_resv)', () => {
    for (const j of result.jobs)
      for (const w of j.waitedFor) expect(w.signalledAt).toBeLessThanOrEqual(j.start);
    for (const f of result.frames) {
      expect(job('capture', f.frame).end).toBeLessThanOrEqual(job('process', f.frame).start);
      expect(job('process', f.frame).end).toBeLessThanOrEqual(job('encode', f.frame).start);
      if (f.display !== null)
        expect(job('process', f.frame).end).toBeLessThanOrEqual(job('scanout', f.frame).start);
    }
    expect(job('process', 2).waitedFor.map((w) => w.fence)).toEqual(['camera#3', 'encoder#1']);
    expect(checkCameraPipeline(result).orderViolations).toEqual([]);
  });

  it('DMA debug finds nothing and no mapping outlives the teardown', () => {
    expect(result.dmaDebug.findings).toEqual([]);
    expect(result.dmaDebug.activeAfterTeardown).toBe(0);
  });

  it('the report states every verdict', () => {
    const verdict = checkCameraPipeline(result);
    expect(verdict).toMatchObject({
      framesIntact: true,
      migrated: true,
      bytesPreserved: true,
      fencesOrdered: true,
      dmaDebugClean: true,
    });
    const text = formatCameraPipelineReport(result);
    expect(text).not.toMatch(/FAIL|CORRUPTED|LOST/);
    expect(text).toMatch(/processed0 \(holding frame 2\): migrated, not refused/);
  });

  it('is deterministic: the same options give the same record', () => {
    const opts = { framesBeforeHotplug: 2, framesAfterHotplug: 1 };
    expect(JSON.stringify(runCameraPipeline(opts))).toBe(JSON.stringify(runCameraPipeline(opts)));
  });
});

describe('conflict variant: 4K frames from the system heap only', () => {
  it('refuses the display with EBUSY and a certificate naming contiguity and the display', () => {
    expect(conflict.refusal?.code).toBe('EBUSY');
    const cert = conflict.certificate!;
    expect(cert.field).toBe('contiguity');
    expect(cert.imposedBy.map((i) => i.attacher)).toEqual(['display']);
    expect(cert.heapsTried.filter((h) => h.field === 'permittedHeaps').map((h) => h.heap)).toEqual([
      'reserved',
      'carveout',
    ]);
    expect(cert.message).toMatch(/display/);
  });

  it('changes nothing: same backing, mappings valid, no move_notify, bytes intact', () => {
    expect(conflict.sameBacking).toBe(true);
    expect(conflict.mappingsValid).toBe(true);
    expect(conflict.moveNotify).toEqual([]);
    expect(conflict.checksumBefore).toBe(conflict.checksumWritten);
    expect(conflict.checksumAfter).toBe(conflict.checksumWritten);
    expect(conflict.after.placement).toEqual(conflict.before.placement);
  });

  it('shows what would work: without the heap restriction the planner picks CMA', () => {
    expect(conflict.withoutRestriction.plan?.heap).toBe('reserved');
    expect(formatConflictVariantReport(conflict)).toMatch(/refused: EBUSY/);
  });
});
