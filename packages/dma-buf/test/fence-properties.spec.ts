import { fc, test as fcTest } from '@fast-check/vitest';
import { SimClock } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect } from 'vitest';
import { DmaFence, type DmaFenceCb, type DmaFenceOps, FenceDomain } from '../src/fence/index.js';

const mockOps: DmaFenceOps = { getDriverName: () => 'mock', getTimelineName: () => 'mock' };

type Op =
  | { readonly kind: 'add' }
  | { readonly kind: 'remove'; readonly pick: number }
  | { readonly kind: 'signal' }
  | { readonly kind: 'enable' }
  | { readonly kind: 'poll' }
  | { readonly kind: 'tick'; readonly ns: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'add' } as const) },
  { weight: 2, arbitrary: fc.nat(20).map((pick) => ({ kind: 'remove', pick }) as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'signal' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'enable' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'poll' } as const) },
  { weight: 1, arbitrary: fc.nat(100).map((ns) => ({ kind: 'tick', ns }) as const) },
);

describe('dma_fence properties (drivers/dma-buf/dma-fence.c)', () => {
  fcTest.prop([fc.array(op, { maxLength: 60 })])(
    'a fence signals at most once, and every callback queued before the signal runs exactly once, in order',
    (ops) => {
      const clock = new SimClock();
      const domain = new FenceDomain(clock);
      const fence = new DmaFence(domain, mockOps, 1, 1);
      let signaledEvents = 0;
      domain.bus.on('fence-signaled', () => signaledEvents++);
      const ran: number[] = [];
      const queued: { id: number; cb: DmaFenceCb }[] = [];
      const expected: number[] = [];
      let signaledAt: number | undefined;
      let nextId = 0;
      for (const o of ops) {
        switch (o.kind) {
          case 'add': {
            const id = nextId++;
            const r = fence.addCallback(() => ran.push(id));
            if (signaledAt === undefined) {
              expect(E.isRight(r)).toBe(true);
              if (E.isRight(r)) queued.push({ id, cb: r.right });
            } else {
              expect(E.isLeft(r) && r.left.code).toBe('ENOENT');
            }
            break;
          }
          case 'remove': {
            const entry = queued[o.pick % Math.max(1, queued.length)];
            if (entry === undefined) break;
            expect(fence.removeCallback(entry.cb)).toBe(signaledAt === undefined);
            queued.splice(queued.indexOf(entry), 1);
            break;
          }
          case 'signal': {
            const r = fence.signal();
            if (signaledAt === undefined) {
              expect(E.isRight(r)).toBe(true);
              signaledAt = clock.now();
              expected.push(...queued.map((q) => q.id));
              queued.length = 0;
            } else {
              expect(E.isLeft(r) && r.left.code).toBe('EINVAL');
            }
            break;
          }
          case 'enable':
            expect(fence.enableSwSignaling()).toBe(signaledAt === undefined);
            break;
          case 'poll':
            expect(fence.isSignaled()).toBe(signaledAt !== undefined);
            break;
          case 'tick':
            clock.advance(o.ns);
            break;
        }
        expect(ran).toEqual(expected);
      }
      expect(signaledEvents).toBe(signaledAt === undefined ? 0 : 1);
      expect(fence.timestamp).toBe(signaledAt);
    },
  );
});
