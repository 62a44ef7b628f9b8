import { pow2 } from '@sharedbuf/platform';

/**
 * `transform`: for `count` 32-bit words, `dst[i] = src[i] * scale + bias` (mod 2^32), where `scale`
 * and `bias` are the first two words at `params`; the GPU then stores the sum of the results
 * (mod 2^32) as the third word at `params`.
 */
export interface TransformJob {
  readonly kind: 'transform';
  readonly src: number;
  readonly dst: number;
  readonly params: number;
  readonly count: number;
}

/** `checksum`: the FNV-1a hash of the `length` bytes at `src`, stored as one 32-bit word at `dst`. */
export interface ChecksumJob {
  readonly kind: 'checksum';
  readonly src: number;
  readonly dst: number;
  readonly length: number;
}

/**
 * A job as user space submits it: a GPU kernel and its operands, every address a user virtual
 * address of the submitting process (the bus address the GPU uses, seed 002).
 */
export type GpuJob = TransformJob | ChecksumJob;

/** A range a job touches, in the submitting process's address space. */
export interface JobRange {
  readonly va: number;
  readonly length: number;
  /** True when the GPU writes it (the driver invalidates it for the CPU at completion). */
  readonly write: boolean;
}

/** Bytes of one descriptor: one CPU cache line, so two descriptors never share a line. */
export const DESCRIPTOR_SIZE = 64;
/** Offset of the result word in a transform's parameter block. */
export const TRANSFORM_SUM_OFFSET = 8;

const OPCODE = { transform: 1, checksum: 2 } as const;
const WORD = 4;

/** The ranges `job` reads and writes, for the driver's cache maintenance. */
export const jobRanges = (job: GpuJob): JobRange[] =>
  job.kind === 'transform'
    ? [
        { va: job.src, length: job.count * WORD, write: false },
        { va: job.params, length: TRANSFORM_SUM_OFFSET, write: false },
        { va: job.dst, length: job.count * WORD, write: true },
        { va: job.params + TRANSFORM_SUM_OFFSET, length: WORD, write: true },
      ]
    : [
        { va: job.src, length: job.length, write: false },
        { va: job.dst, length: WORD, write: true },
      ];

/** Why `job` is malformed, or undefined (the submit ioctl's argument checks). */
export const jobProblem = (job: GpuJob): string | undefined => {
  const size = job.kind === 'transform' ? job.count : job.length;
  if (!Number.isSafeInteger(size) || size <= 0 || size > 0xffff_ffff)
    return `${job.kind}: size ${size} is not in 1..2^32-1`;
  const addrs = job.kind === 'transform' ? [job.src, job.dst, job.params] : [job.src, job.dst];
  const bad = addrs.find((a) => !Number.isSafeInteger(a) || a < 0);
  return bad === undefined ? undefined : `${job.kind}: ${bad} is not a user address`;
};

/**
 * Encodes the descriptor the GPU fetches from the ring: opcode, PASID, size, sequence number, then
 * three 64-bit addresses, little endian. Addresses are split with arithmetic, never 32-bit bit
 * operations (they may exceed 2^32).
 */
export const encodeDescriptor = (job: GpuJob, pasid: number, seqno: number, out: Uint8Array): void => {
  const v = new DataView(out.buffer, out.byteOffset, DESCRIPTOR_SIZE);
  out.fill(0, 0, DESCRIPTOR_SIZE);
  v.setUint32(0, OPCODE[job.kind], true);
  v.setUint32(4, pasid, true);
  v.setUint32(8, job.kind === 'transform' ? job.count : job.length, true);
  v.setUint32(12, seqno, true);
  setU64(v, 16, job.src);
  setU64(v, 24, job.dst);
  setU64(v, 32, job.kind === 'transform' ? job.params : 0);
};

/** The job and PASID a descriptor carries, as the GPU's front end decodes it; undefined for a bad opcode. */
export const decodeDescriptor = (bytes: Uint8Array): { job: GpuJob; pasid: number } | undefined => {
  const v = new DataView(bytes.buffer, bytes.byteOffset, DESCRIPTOR_SIZE);
  const opcode = v.getUint32(0, true);
  const pasid = v.getUint32(4, true);
  const size = v.getUint32(8, true);
  const src = getU64(v, 16);
  const dst = getU64(v, 24);
  if (opcode === OPCODE.transform)
    return { job: { kind: 'transform', src, dst, params: getU64(v, 32), count: size }, pasid };
  if (opcode === OPCODE.checksum) return { job: { kind: 'checksum', src, dst, length: size }, pasid };
  return undefined;
};

/** `out[i] = in[i] * scale + bias` (mod 2^32) over `count` little-endian words; returns their sum. */
export const transformWords = (
  input: Uint8Array,
  output: Uint8Array,
  count: number,
  scale: number,
  bias: number,
): number => {
  const src = new DataView(input.buffer, input.byteOffset, count * WORD);
  const dst = new DataView(output.buffer, output.byteOffset, count * WORD);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const y = (Math.imul(src.getUint32(i * WORD, true), scale) + bias) >>> 0;
    dst.setUint32(i * WORD, y, true);
    sum = (sum + y) >>> 0;
  }
  return sum;
};

/** 32-bit FNV-1a of `bytes[0, length)`. */
export const fnv1a = (bytes: Uint8Array, length: number): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193) >>> 0;
  return h;
};

const TWO_32 = pow2(32);

const setU64 = (v: DataView, at: number, x: number): void => {
  v.setUint32(at, x % TWO_32, true);
  v.setUint32(at + 4, Math.floor(x / TWO_32), true);
};

const getU64 = (v: DataView, at: number): number =>
  v.getUint32(at + 4, true) * TWO_32 + v.getUint32(at, true);
