import { describe, expect, it } from 'vitest';
import { formatDefaultReport, runDefaultScenario } from '../src/index.js';

describe('the default scenario (pnpm start)', () => {
  const r = runDefaultScenario();

  it('runs the camera pipeline and the GPU model on one machine, correctly', () => {
    expect(r.verdict.framesIntact).toBe(true);
    expect(r.verdict.migrated).toBe(true);
    expect(r.verdict.bytesPreserved).toBe(true);
    expect(r.verdict.fencesOrdered).toBe(true);
    expect(r.gpu.contexts).toHaveLength(2);
    expect(r.gpu.faults.served.length).toBeGreaterThan(0);
  });

  it('ends with no DMA-debug findings, and refuses only the GPU accesses meant to fault', () => {
    expect(r.debugFindings).toEqual([]);
    expect(r.faults.every((f) => !f.handled && f.pasid >= 0)).toBe(true);
  });

  it('prints one report with every section, the same on every run', () => {
    const text = formatDefaultReport(r);
    for (const title of [
      'The platform',
      'Camera → ISP → encoder + display',
      'constraints truly conflict',
      'GPU with one address space per process',
      'Faults and DMA debug',
    ]) {
      expect(text).toContain(title);
    }
    expect(formatDefaultReport(runDefaultScenario())).toBe(text);
  });
});
