import { fc, test as fcTest } from '@fast-check/vitest';
import { unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect } from 'vitest';
import { IOMMU_READ, IOMMU_WRITE, iommuIovaToPhys, iommuMap, iommuUnmap } from '../src/index.js';
import { machine } from './fixture.js';

const PAGES = 64; // the IOVA window under test: 64 pages from 0x40_0000
const BASE = 0x40_0000;

const op = fc.oneof(
  fc.record({
    kind: fc.constant('map' as const),
    page: fc.nat(PAGES - 1),
    count: fc.integer({ min: 1, max: 8 }),
    frame: fc.nat(15),
    write: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('unmap' as const),
    page: fc.nat(PAGES - 1),
    count: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({ kind: fc.constant('dma' as const), page: fc.nat(PAGES - 1), write: fc.boolean() }),
);

describe('IOMMU core against a reference model', () => {
  fcTest.prop([fc.array(op, { maxLength: 40 })], { numRuns: 60 })(
    'translation always equals the model, unmap returns what it predicts, and devices reach only pages mapped for them',
    (ops) => {
      const m = machine();
      const dev = m.device('dev');
      const other = m.device('other');
      unwrap(m.iommu.probeDevice(dev, { instance: 'smmu0', streamId: 1 }));
      unwrap(m.iommu.probeDevice(other, { instance: 'smmu0', streamId: 2 }));
      const dom = unwrap(m.iommu.domainAlloc('unmanaged', { instance: 'smmu0' }));
      unwrap(m.iommu.attachDevice(dom, dev));
      const frames = Array.from({ length: 16 + 8 }, (_, i) => m.page(i + 1));
      const model = new Map<number, { pa: number; write: boolean }>();
      for (const o of ops) {
        const iova = BASE + o.page * 4096;
        if (o.kind === 'map') {
          const n = Math.min(o.count, PAGES - o.page);
          const clash = Array.from({ length: n }, (_, i) => model.has(o.page + i)).some(Boolean);
          const r = iommuMap(dom, iova, frames[o.frame]!, n * 4096, IOMMU_READ | (o.write ? IOMMU_WRITE : 0));
          // Frames are not contiguous, so only single pages map to the chosen frame; longer ranges use the
          // frame and its (unrelated) successors physically: the model follows the real addresses.
          expect(E.isRight(r)).toBe(!clash);
          if (!clash)
            for (let i = 0; i < n; i++)
              model.set(o.page + i, { pa: frames[o.frame]! + i * 4096, write: o.write });
        } else if (o.kind === 'unmap') {
          const n = Math.min(o.count, PAGES - o.page);
          let expected = 0;
          while (expected < n && model.has(o.page + expected)) expected++;
          expect(iommuUnmap(dom, iova, n * 4096)).toBe(expected * 4096);
          for (let i = 0; i < expected; i++) model.delete(o.page + i);
        } else {
          const entry = model.get(o.page);
          const buf = new Uint8Array(1);
          const r = o.write ? dev.dmaWrite(iova, Uint8Array.of(0xee), 0, 1) : dev.dmaRead(iova, buf, 0, 1);
          expect(E.isRight(r)).toBe(entry !== undefined && (!o.write || entry.write));
          expect(E.isRight(other.dmaRead(iova, buf, 0, 1))).toBe(false);
        }
        for (let p = 0; p < PAGES; p++)
          expect(iommuIovaToPhys(dom, BASE + p * 4096)).toBe(model.get(p)?.pa ?? -1);
      }
    },
  );
});
