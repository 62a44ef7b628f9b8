import { fc, test as fcTest } from '@fast-check/vitest';
import { SimClock } from '@sharedbuf/platform';
import { describe, expect } from 'vitest';
import { DmaFence, type DmaFenceOps, FenceDomain } from '../src/fence/index.js';
import { DMA_RESV_USAGES, DmaResv, type DmaResvUsage } from '../src/resv/index.js';

const ops: DmaFenceOps = { getDriverName: () => 'prop', getTimelineName: () => 'prop' };

const usage = fc.constantFrom(...DMA_RESV_USAGES);
const fenceSpec = fc.record({
  context: fc.integer({ min: 1, max: 3 }),
  seqno: fc.integer({ min: 0, max: 5 }),
});

type Op =
  | { readonly kind: 'reserve'; readonly num: number }
  | { readonly kind: 'add'; readonly fence: number; readonly usage: DmaResvUsage }
  | { readonly kind: 'signal'; readonly fence: number }
  | { readonly kind: 'relock' };

const opArb = (pool: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.integer({ min: 0, max: 3 }).map((num) => ({ kind: 'reserve', num }) as const),
    fc.record({ fence: fc.nat(pool - 1), usage }).map((o) => ({ kind: 'add', ...o }) as const),
    fc.nat(pool - 1).map((fence) => ({ kind: 'signal', fence }) as const),
    fc.constant({ kind: 'relock' } as const),
  );

const scenario = fc
  .array(fenceSpec, { minLength: 1, maxLength: 8 })
  .chain((specs) => fc.tuple(fc.constant(specs), fc.array(opArb(specs.length), { maxLength: 40 })));

/** The kernel's rules for the entry list, written as plainly as possible. */
class ResvModel {
  entries: { fence: number; usage: DmaResvUsage }[] = [];
  capacity = 0;

  constructor(
    private readonly specs: readonly { context: number; seqno: number }[],
    private readonly signaled: Set<number>,
  ) {}

  reserve(num: number): void {
    if (this.entries.length + num <= this.capacity) return;
    this.entries = this.entries.filter((e) => !this.signaled.has(e.fence));
    this.capacity = this.entries.length + num;
  }

  /** False when the add must be refused for want of a slot. */
  add(fence: number, usage: DmaResvUsage): boolean {
    const spec = this.specs[fence];
    const i = this.entries.findIndex((e) => {
      const old = this.specs[e.fence];
      const sameOrLater = e.fence === fence || (spec?.seqno ?? 0) > (old?.seqno ?? 0);
      return (
        (old?.context === spec?.context && e.usage >= usage && sameOrLater) || this.signaled.has(e.fence)
      );
    });
    if (i >= 0) this.entries[i] = { fence, usage };
    else if (this.entries.length >= this.capacity) return false;
    else this.entries.push({ fence, usage });
    return true;
  }
}

describe('dma_resv properties (drivers/dma-buf/dma-resv.c)', () => {
  fcTest.prop([scenario])(
    'a query at usage U returns exactly the fences added with usage ≤ U, after same-context replacement',
    ([specs, script]) => {
      const domain = new FenceDomain(new SimClock());
      const fences = specs.map((s) => new DmaFence(domain, ops, s.context, s.seqno));
      const resv = new DmaResv(domain);
      const signaled = new Set<number>();
      const model = new ResvModel(specs, signaled);
      resv.lock();
      for (const o of script) {
        switch (o.kind) {
          case 'reserve':
            resv.reserveFences(o.num);
            model.reserve(o.num);
            break;
          case 'add': {
            const fence = fences[o.fence];
            if (fence === undefined) break;
            if (model.add(o.fence, o.usage)) resv.addFence(fence, o.usage);
            else expect(() => resv.addFence(fence, o.usage)).toThrow(/no fence slot/);
            break;
          }
          case 'signal':
            fences[o.fence]?.signal();
            signaled.add(o.fence);
            break;
          case 'relock':
            resv.unlock();
            model.capacity = model.entries.length;
            resv.lock();
            break;
        }
        for (const u of DMA_RESV_USAGES) {
          const expected = model.entries.filter((e) => e.usage <= u);
          expect(resv.fences(u)).toEqual(expected.map((e) => ({ fence: fences[e.fence], usage: e.usage })));
          expect(resv.testSignaled(u)).toBe(expected.every((e) => signaled.has(e.fence)));
        }
      }
      resv.unlock();
      resv.fini();
      expect(fences.every((f) => f.refcount === 1)).toBe(true);
    },
  );

  fcTest.prop([
    fc.array(
      fc.record({ usage, signalAt: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }) }),
      {
        maxLength: 6,
      },
    ),
    usage,
    fc.integer({ min: 1, max: 1500 }),
  ])(
    'a resv wait never moves the clock past its deadline and succeeds iff every fence ≤ U signals by then',
    (fenceSpecs, waitUsage, timeout) => {
      const clock = new SimClock();
      const domain = new FenceDomain(clock);
      const resv = new DmaResv(domain);
      resv.lock();
      resv.reserveFences(fenceSpecs.length);
      for (const s of fenceSpecs) {
        const f = new DmaFence(domain, ops, domain.contextAlloc(1), 1);
        resv.addFence(f, s.usage);
        if (s.signalAt !== undefined) clock.at(s.signalAt, () => f.signal());
        f.put();
      }
      resv.unlock();
      const relevant = fenceSpecs.filter((s) => s.usage <= waitUsage);
      const lastNeeded = relevant.reduce((t, s) => Math.max(t, s.signalAt ?? Number.POSITIVE_INFINITY), 0);
      const result = resv.waitTimeout(waitUsage, timeout);
      expect(clock.now()).toBeLessThanOrEqual(timeout);
      if (lastNeeded <= timeout) {
        expect(result).toBe(Math.max(1, timeout - lastNeeded));
        expect(clock.now()).toBe(lastNeeded);
      } else {
        expect(result).toBe(0);
        expect(clock.now()).toBe(timeout);
      }
    },
  );
});
