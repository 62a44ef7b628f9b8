import { type KResult, ok, type Process, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { GpuBo, GpuContext } from './gpu-context.js';
import type { GpuDriver } from './gpu-driver.js';
import { TRANSFORM_SUM_OFFSET, type TransformJob, transformWords } from './gpu-job.js';

/** Offset in the parameter BO where the app asks for the camera frame's checksum. */
export const CHECKSUM_SLOT = 16;

/** How an app fills its input and parameters. */
export interface AppData {
  /** `input[i] = first + i * step` (mod 2^32). */
  readonly first: number;
  readonly step: number;
  readonly scale: number;
  readonly bias: number;
}

/**
 * The user-space side of one process: an input array it writes with the CPU (cached, so its stores
 * sit dirty in the cache until the driver cleans them at submit), an output array it never touches
 * (the GPU faults it in), and a parameter buffer object from the driver at a fixed address.
 */
export class UserApp {
  private constructor(
    readonly ctx: GpuContext,
    readonly data: AppData,
    readonly count: number,
    readonly input: number,
    readonly output: number,
    readonly params: GpuBo,
  ) {}

  /**
   * mmaps the arrays (`count` 32-bit words each), writes the input, and asks the driver for the
   * parameter BO at `paramsVa`. Errors: mmap's, the driver's, a CPU store's.
   */
  static start(
    driver: GpuDriver,
    ctx: GpuContext,
    data: AppData,
    count: number,
    paramsVa: number,
  ): KResult<UserApp> {
    const mm = ctx.process.mm;
    const bytes = count * 4;
    const rw = { read: true, write: true };
    const input = mm.mmap({ length: bytes, prot: rw, name: 'input' });
    if (E.isLeft(input)) return input;
    const output = mm.mmap({ length: bytes, prot: rw, name: 'output' });
    if (E.isLeft(output)) return output;
    const stored = mm.write(input.right, inputWords(data, count), 0, bytes);
    if (E.isLeft(stored)) return stored;
    const bo = driver.createBo(ctx, 'params', 4096, paramsVa);
    if (E.isLeft(bo)) return bo;
    const params = new Uint8Array(8);
    const v = new DataView(params.buffer);
    v.setUint32(0, data.scale, true);
    v.setUint32(4, data.bias, true);
    const set = mm.write(bo.right.va, params, 0, 8);
    if (E.isLeft(set)) return set;
    return ok(new UserApp(ctx, data, count, input.right, output.right, bo.right));
  }

  get process(): Process {
    return this.ctx.process;
  }

  /** The job this app submits: transform its input into its output with its parameters. */
  transformJob(): TransformJob {
    return {
      kind: 'transform',
      src: this.input,
      dst: this.output,
      params: this.params.va,
      count: this.count,
    };
  }

  /** The output and sum the GPU should produce, computed on the CPU from the same data. */
  expected(): { output: Uint8Array; sum: number } {
    const output = new Uint8Array(this.count * 4);
    const sum = transformWords(
      inputWords(this.data, this.count),
      output,
      this.count,
      this.data.scale,
      this.data.bias,
    );
    return { output, sum };
  }

  /** The output array as the process's CPU reads it now. */
  readOutput(): Uint8Array {
    const out = new Uint8Array(this.count * 4);
    unwrap(this.process.mm.read(this.output, out, 0, out.length));
    return out;
  }

  /** A 32-bit word of the parameter BO, read through the process's write-combined mapping. */
  readParamWord(offset: number): number {
    const word = new Uint8Array(4);
    unwrap(this.process.mm.read(this.params.va + offset, word, 0, 4));
    return new DataView(word.buffer).getUint32(0, true);
  }

  /** The sum the GPU stored in the parameter BO. */
  readSum(): number {
    return this.readParamWord(TRANSFORM_SUM_OFFSET);
  }
}

const inputWords = (data: AppData, count: number): Uint8Array => {
  const bytes = new Uint8Array(count * 4);
  const v = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) v.setUint32(i * 4, (data.first + Math.imul(i, data.step)) >>> 0, true);
  return bytes;
};
