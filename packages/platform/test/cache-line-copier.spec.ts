import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { LineCopier } from '../src/cache/line-copier.js';

/** A copy: view shifts inside their buffers, offsets in the views, and a length of up to a line. */
const copyArb = fc.record({
  dShift: fc.nat(3),
  sShift: fc.nat(3),
  dOff: fc.nat(70),
  sOff: fc.nat(70),
  n: fc.integer({ min: 0, max: 64 }),
});

describe('LineCopier', () => {
  fcTest.prop([fc.array(copyArb, { minLength: 1, maxLength: 12 })])(
    'copies exactly the bytes asked, aligned or not, across more buffers than it keeps views of',
    (copies) => {
      const copier = new LineCopier();
      for (const { dShift, sShift, dOff, sOff, n } of copies) {
        const src = new Uint8Array(144).map((_, i) => i + 1).subarray(sShift, sShift + 140);
        const dst = new Uint8Array(144).subarray(dShift, dShift + 140);
        copier.copy(dst, dOff, src, sOff, n);
        const expected = new Uint8Array(140);
        expected.set(src.subarray(sOff, sOff + n), dOff);
        expect(Array.from(dst)).toEqual(Array.from(expected));
      }
    },
  );
});
