import { PhysicalMemory, unwrap } from '@sharedbuf/platform';
import {
  type BenchContext,
  copySourceByte,
  type FigureSet,
  fmt,
  shuffle,
  timeRatesInterleaved,
  xorshift32,
} from '../harness.js';

const MiB = 2 ** 20;
const SRC_BASE = 0x4000_0000;

/** The copy workloads' chunk orders (BENCH-SPEC "Copies"). */
export const copyWorkloads = (quick: boolean) => {
  const region = quick ? 8 * MiB : 256 * MiB;
  return [
    { key: '4k', chunk: 4096, order: shuffle(region / 4096, xorshift32(0x165667b1)), region },
    { key: '2m', chunk: 2 * MiB, order: shuffle(region / (2 * MiB), xorshift32(0xd3a2646c)), region },
  ] as const;
};

/** A plain Uint8Array filled with the spec's source pattern. */
export const rawSource = (region: number): Uint8Array => {
  const src = new Uint8Array(region);
  for (let i = 0; i < region; i++) src[i] = copySourceByte(i);
  return src;
};

const physCopy = (ctx: BenchContext): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const w of copyWorkloads(ctx.quick)) {
    const src = rawSource(w.region);
    const dst = new Uint8Array(w.region);
    const mem = new PhysicalMemory([{ name: 'ram', base: SRC_BASE, size: 2 * w.region }]);
    const dstBase = SRC_BASE + w.region;
    unwrap(mem.write(SRC_BASE, src, 0, w.region));
    const rawPass = () => {
      for (const c of w.order) dst.set(src.subarray(c * w.chunk, c * w.chunk + w.chunk), c * w.chunk);
      return w.region;
    };
    const physPass = () => {
      for (const c of w.order) mem.copy(dstBase + c * w.chunk, SRC_BASE + c * w.chunk, w.chunk);
      return w.region;
    };
    const { a: raw, b: phys } = timeRatesInterleaved(ctx, rawPass, physPass);
    const check = new Uint8Array(4096);
    unwrap(mem.read(dstBase + w.region - 4096, check, 0, 4096));
    if (check[4095] !== copySourceByte(w.region - 1)) throw new Error('phys copy produced wrong bytes');
    const ratio = phys / raw;
    ctx.log(
      `phys_copy_ratio_${w.key}: ${fmt(ratio, 3)}  (physical memory ${fmt(phys / 2 ** 30, 2)} GiB/s, raw Uint8Array.set ${fmt(raw / 2 ** 30, 2)} GiB/s)`,
    );
    out[`phys_copy_ratio_${w.key}`] = ratio;
  }
  return out;
};

/** `phys_copy_ratio_4k`, `phys_copy_ratio_2m` (BENCH-SPEC "Copies"). */
export const physCopyFigures: FigureSet = { name: 'physical memory copies', run: physCopy };
