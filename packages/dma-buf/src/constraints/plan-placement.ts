import { alignUp } from '@sharedbuf/platform';
import type { BackingPlan } from './backing-plan.js';
import type { FreeRange } from './described-heap.js';
import type { PhysRun } from './segment-split.js';

interface Hole {
  start: number;
  end: number;
}

const takeBlock = (holes: Hole[], size: number, align: number, maxAddress: number): number | undefined => {
  for (const [i, h] of holes.entries()) {
    const start = alignUp(h.start, align);
    const end = start + size - 1;
    if (end > Math.min(h.end, maxAddress)) continue;
    const left = { start: h.start, end: start - 1 };
    const right = { start: end + 1, end: h.end };
    holes.splice(i, 1, ...[left, right].filter((x) => x.end >= x.start));
    return start;
  }
  return undefined;
};

/**
 * A dry run of a plan in a heap described by its free ranges: first-fit places every chunk
 * (naturally aligned when scattered, the plan's alignment when one block) at or below the plan's
 * `maxAddress`, and returns the physical runs in buffer order — or `undefined` when they do not fit.
 * Nothing is allocated; tests and pipeline authors use it to see concrete addresses.
 */
export const placePlan = (plan: BackingPlan, free: readonly FreeRange[]): PhysRun[] | undefined => {
  const holes: Hole[] = [...free]
    .sort((a, b) => a.base - b.base)
    .map((r) => ({ start: r.base, end: r.base + r.size - 1 }));
  const runs: PhysRun[] = [];
  for (const g of plan.chunks) {
    const align = plan.chunkFloor > 0 ? g.size : plan.alignment;
    for (let i = 0; i < g.count; i++) {
      const phys = takeBlock(holes, g.size, align, plan.maxAddress);
      if (phys === undefined) return undefined;
      runs.push({ phys, length: g.used });
    }
  }
  return runs;
};
