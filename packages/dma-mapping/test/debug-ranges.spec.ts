import { fc, it as fcIt } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { CpuOwnedRanges } from '../src/debug/cpu-owned-ranges.js';
import { type Interval, IntervalIndex } from '../src/debug/interval-index.js';

const SIZE = 24;
const span = fc.tuple(fc.integer({ min: 0, max: SIZE }), fc.integer({ min: 0, max: SIZE }));

describe('CpuOwnedRanges (per-byte ownership of one mapping)', () => {
  fcIt.prop([fc.array(fc.tuple(fc.boolean(), span), { maxLength: 30 }), span])(
    'claim/release agree with a byte map, and every query reads it correctly',
    (ops, [qa, qb]) => {
      const ranges = new CpuOwnedRanges();
      const cpu: boolean[] = Array(SIZE).fill(false);
      for (const [toCpu, [a, b]] of ops) {
        if (toCpu) ranges.claim(a, b);
        else ranges.release(a, b);
        for (let i = a; i < b; i++) cpu[i] = toCpu;
      }
      for (let i = 0; i < SIZE; i++) {
        expect(ranges.cpuOwns(i)).toBe(cpu[i]);
        let run = i;
        while (run < SIZE && cpu[run] === cpu[i]) run++;
        expect(ranges.runEnd(i, SIZE)).toBe(run);
      }
      const [from, to] = qa <= qb ? [qa, qb] : [qb, qa];
      let first = -1;
      for (let i = from; i < to && first < 0; i++) if (!cpu[i]) first = i;
      expect(ranges.firstDeviceOwned(from, to)).toBe(first);
      expect(ranges.empty).toBe(!cpu.includes(true));
      expect(ranges.coversAll(SIZE)).toBe(!cpu.includes(false));
      // Stored ranges are sorted, disjoint and never touching: one per run of CPU bytes.
      const runs = cpu.filter((c, i) => c && !cpu[i - 1]).length;
      expect(ranges.toRanges()).toHaveLength(runs);
    },
  );
});

describe('IntervalIndex (the debug tables)', () => {
  fcIt.prop([
    fc.integer({ min: 1, max: 4 }),
    fc.array(fc.tuple(fc.boolean(), span), { maxLength: 80 }),
    fc.integer({ min: 0, max: SIZE }),
  ])(
    'keeps intervals by start then insertion; a scan from scanFrom(x) sees every interval reaching x',
    (chunk, ops, x) => {
      const index = new IntervalIndex<Interval & { seq: number }>(chunk);
      const held: (Interval & { seq: number })[] = [];
      ops.forEach(([add, [a, b]], seq) => {
        if (add || held.length === 0) {
          const it = { start: Math.min(a, b), end: Math.max(a, b), seq };
          index.insert(it);
          held.push(it);
        } else {
          const victim = held.splice(a % held.length, 1)[0] as Interval & { seq: number };
          expect(index.remove(victim)).toBe(true);
          expect(index.remove(victim)).toBe(false);
        }
      });
      const inOrder = Array.from({ length: index.size }, (_, i) => index.at(i));
      expect(inOrder).toEqual([...held].sort((p, q) => p.start - q.start || p.seq - q.seq));
      for (const y of [x, 0, SIZE]) {
        const lb = index.lowerBound(y);
        expect(lb).toBe(inOrder.filter((it) => it.start < y).length);
      }
      const seen = new Set<Interval>();
      for (let i = index.scanFrom(x); i < index.size && index.at(i).start <= x; i++) seen.add(index.at(i));
      for (const it of held) if (it.start <= x && it.end >= x) expect(seen.has(it)).toBe(true);
    },
  );
});
