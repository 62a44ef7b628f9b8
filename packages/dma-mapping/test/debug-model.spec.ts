import { fc, it as fcIt } from '@fast-check/vitest';
import { EventBus } from '@sharedbuf/platform';
import { describe, expect } from 'vitest';
import {
  DMA_ATTR_SKIP_CPU_SYNC,
  DmaDebug,
  type DmaDebugDevice,
  type DmaDebugEvents,
  type DmaDebugFindingKind,
  type DmaDebugRange,
  DmaDirection,
  directionAllows,
} from '../src/debug/index.js';

/**
 * A reference model of the DMA API's ownership rules (Documentation/core-api/dma-api-howto.rst)
 * and of the kernel checks that apply to whole-buffer page/single mappings (kernel/dma/debug.c),
 * kept byte by byte over a few small buffers. DmaDebug must report exactly what it predicts.
 */

const BUF = 24;
const BUFFERS = 3;
/** Buffers sit a page apart, so a range running off a buffer lands in unmapped memory. */
const base = (b: number): number => 0x1000 * (b + 1);
const devices: DmaDebugDevice[] = [{ name: 'dev0' }, { name: 'dev1' }];

interface RefMapping {
  readonly dir: DmaDirection;
  readonly type: 'single' | 'page';
  readonly checked: boolean;
  /** cpu[i]: the CPU owns byte i. */
  readonly cpu: boolean[];
}

type Op =
  | {
      op: 'map';
      d: number;
      b: number;
      dir: DmaDirection;
      type: 'single' | 'page';
      checked: boolean;
      skipSync: boolean;
    }
  | { op: 'unmap'; d: number; b: number; dir: DmaDirection; type: 'single' | 'page'; shrink: boolean }
  | { op: 'sync'; d: number; b: number; off: number; len: number; dir: DmaDirection; toCpu: boolean }
  | { op: 'cpu'; b: number; off: number; len: number; write: boolean }
  | { op: 'dev'; d: number; b: number; off: number; len: number; write: boolean }
  | { op: 'unbind'; d: number };

const dirArb = fc.constantFrom<DmaDirection>(
  DmaDirection.BIDIRECTIONAL,
  DmaDirection.TO_DEVICE,
  DmaDirection.FROM_DEVICE,
  DmaDirection.NONE,
);
const d = fc.integer({ min: 0, max: devices.length - 1 });
const b = fc.integer({ min: 0, max: BUFFERS - 1 });
const off = fc.integer({ min: -4, max: BUF + 3 });
const len = fc.integer({ min: 1, max: BUF + 8 });
const typeArb = fc.constantFrom<'single' | 'page'>('single', 'page');

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('map' as const),
      d,
      b,
      dir: dirArb,
      type: typeArb,
      checked: fc.boolean(),
      skipSync: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('unmap' as const),
      d,
      b,
      dir: dirArb,
      type: typeArb,
      shrink: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('sync' as const),
      d,
      b,
      off,
      len,
      dir: dirArb,
      toCpu: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('cpu' as const), b, off, len, write: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('dev' as const), d, b, off, len, write: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unbind' as const), d }) },
);

class Reference {
  readonly maps = new Map<string, RefMapping>();

  get(dev: number, buf: number): RefMapping | undefined {
    return this.maps.get(`${dev}:${buf}`);
  }

  /** Returns the findings the operation must produce, and applies it. */
  apply(o: Op): DmaDebugFindingKind[] {
    switch (o.op) {
      case 'map':
        return this.map(o);
      case 'unmap':
        return this.unmap(o);
      case 'sync':
        return this.sync(o);
      case 'cpu':
        return this.cpuAccess(o);
      case 'dev':
        return this.devAccess(o).kinds;
      case 'unbind':
        return [...this.maps.keys()].some((k) => k.startsWith(`${o.d}:`)) ? ['pending-at-unbind'] : [];
    }
  }

  private map(o: Extract<Op, { op: 'map' }>): DmaDebugFindingKind[] {
    const writable = (m: RefMapping): boolean => m.dir !== DmaDirection.TO_DEVICE;
    const sharesLine = devices.some((_, dev) => {
      const m = this.get(dev, o.b);
      return m !== undefined && writable(m);
    });
    this.maps.set(`${o.d}:${o.b}`, {
      dir: o.dir,
      type: o.type,
      checked: o.checked,
      cpu: Array(BUF).fill(false),
    });
    return o.dir !== DmaDirection.TO_DEVICE && sharesLine && !o.skipSync ? ['cacheline-overlap'] : [];
  }

  private unmap(o: Extract<Op, { op: 'unmap' }>): DmaDebugFindingKind[] {
    const m = this.get(o.d, o.b);
    if (m === undefined) return ['free-not-allocated'];
    this.maps.delete(`${o.d}:${o.b}`);
    const out: DmaDebugFindingKind[] = [];
    if (o.shrink) out.push('free-different-size');
    if (o.type !== m.type) out.push('free-wrong-function');
    if (o.dir !== m.dir) out.push('free-different-direction');
    if (!m.checked) out.push('map-error-not-checked');
    return out;
  }

  private sync(o: Extract<Op, { op: 'sync' }>): DmaDebugFindingKind[] {
    const m = this.get(o.d, o.b);
    if (m === undefined || o.off < 0 || o.off >= BUF) return ['sync-not-allocated'];
    const out: DmaDebugFindingKind[] = [];
    if (o.off + o.len > BUF) out.push('sync-outside-range');
    if (m.dir !== DmaDirection.BIDIRECTIONAL) {
      if (o.dir !== m.dir) out.push('sync-different-direction');
      if (o.toCpu && m.dir !== DmaDirection.FROM_DEVICE && o.dir !== DmaDirection.TO_DEVICE) {
        out.push('sync-read-only-for-cpu');
      }
      if (!o.toCpu && m.dir !== DmaDirection.TO_DEVICE && o.dir !== DmaDirection.FROM_DEVICE) {
        out.push('sync-write-only-to-device');
      }
    }
    for (let i = o.off; i < Math.min(BUF, o.off + o.len); i++) m.cpu[i] = o.toCpu;
    return out;
  }

  private cpuAccess(o: Extract<Op, { op: 'cpu' }>): DmaDebugFindingKind[] {
    for (let i = Math.max(0, o.off); i < Math.min(BUF, o.off + o.len); i++) {
      if (devices.some((_, dev) => this.get(dev, o.b)?.cpu[i] === false)) return ['cpu-access-device-owned'];
    }
    return [];
  }

  /** The first offending byte of a device access, and what is wrong with it. */
  devAccess(o: Extract<Op, { op: 'dev' }>): { kinds: DmaDebugFindingKind[]; first: number } {
    const m = this.get(o.d, o.b);
    for (let i = o.off; i < o.off + o.len; i++) {
      if (m === undefined || i < 0 || i >= BUF)
        return { kinds: ['device-dma-not-mapped'], first: base(o.b) + i };
      if (!directionAllows(m.dir, o.write))
        return { kinds: ['device-dma-wrong-direction'], first: base(o.b) + i };
      if (m.cpu[i]) return { kinds: ['device-dma-cpu-owned'], first: base(o.b) + i };
    }
    return { kinds: [], first: -1 };
  }
}

/** The CPU-owned byte ranges of a byte map, as DmaDebugEntry.cpuOwnedRanges lists them. */
const ranges = (cpu: readonly boolean[]): DmaDebugRange[] => {
  const out: DmaDebugRange[] = [];
  for (let i = 0; i < cpu.length; i++) {
    if (!cpu[i]) continue;
    let j = i;
    while (j < cpu.length && cpu[j]) j++;
    out.push({ offset: i, size: j - i });
    i = j;
  }
  return out;
};

const run = (dbg: DmaDebug, o: Op): void => {
  const dev = devices[o.op === 'cpu' ? 0 : o.d] as DmaDebugDevice;
  switch (o.op) {
    case 'map': {
      const attrs = o.skipSync ? DMA_ATTR_SKIP_CPU_SYNC : 0;
      if (o.type === 'page') dbg.debugDmaMapPage(dev, base(o.b), BUF, o.dir, base(o.b), attrs);
      else dbg.debugDmaMapSingle(dev, base(o.b), BUF, o.dir, base(o.b), attrs);
      if (o.checked) dbg.debugDmaMappingError(dev, base(o.b));
      return;
    }
    case 'unmap': {
      const size = o.shrink ? BUF - 8 : BUF;
      if (o.type === 'page') dbg.debugDmaUnmapPage(dev, base(o.b), size, o.dir);
      else dbg.debugDmaUnmapSingle(dev, base(o.b), size, o.dir);
      return;
    }
    case 'sync':
      if (o.toCpu) dbg.debugDmaSyncSingleForCpu(dev, base(o.b) + o.off, o.len, o.dir);
      else dbg.debugDmaSyncSingleForDevice(dev, base(o.b) + o.off, o.len, o.dir);
      return;
    case 'cpu':
      dbg.debugCpuAccess(undefined, base(o.b) + o.off, o.len, o.write);
      return;
    case 'dev':
      dbg.debugDeviceDma(dev, base(o.b) + o.off, o.len, o.write);
      return;
    case 'unbind':
      dbg.debugDeviceUnbind(dev);
      return;
  }
};

describe('DmaDebug against a reference ownership model (kernel/dma/debug.c, dma-api-howto.rst)', () => {
  fcIt.prop([fc.array(opArb, { maxLength: 50 })], { numRuns: 400 })(
    'flags exactly the operations the model says are wrong, and the tables match it after each step',
    (ops) => {
      const dbg = new DmaDebug(new EventBus<DmaDebugEvents>('dma-debug'));
      const ref = new Reference();
      for (const o of ops) {
        // One mapping per device and buffer: the model does not follow the kernel's best-fit rule
        // between several entries at one address.
        if (o.op === 'map' && ref.get(o.d, o.b) !== undefined) continue;
        const before = dbg.findings().length;
        const expected = ref.apply(o);
        run(dbg, o);
        const got = dbg.findings().slice(before);
        expect(got.map((f) => f.kind)).toEqual(expected);
        if (o.op === 'dev' && expected.length > 0)
          expect(got[0]?.detail.firstAddr).toBe(ref.devAccess(o).first);

        const live = [...ref.maps].map(([key, m]) => {
          const [dev, buf] = key.split(':').map(Number) as [number, number];
          return {
            device: (devices[dev] as DmaDebugDevice).name,
            devAddr: base(buf),
            direction: m.dir,
            type: m.type,
            mapErrType: m.checked ? 'MAP_ERR_CHECKED' : 'MAP_ERR_NOT_CHECKED',
            cpuOwnedRanges: ranges(m.cpu),
          };
        });
        const dumped = dbg.dump().map((e) => ({
          device: e.device,
          devAddr: e.devAddr,
          direction: e.direction,
          type: e.type,
          mapErrType: e.mapErrType,
          cpuOwnedRanges: e.cpuOwnedRanges,
        }));
        const order = (x: { device: string; devAddr: number }): string => `${x.device}:${x.devAddr}`;
        expect(dumped.sort((p, q) => order(p).localeCompare(order(q)))).toEqual(
          live.sort((p, q) => order(p).localeCompare(order(q))),
        );
      }
    },
  );
});
