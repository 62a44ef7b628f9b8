import { type Device, type KernelError, type KResult, kernelError } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import {
  DESCRIPTOR_SIZE,
  decodeDescriptor,
  fnv1a,
  type GpuJob,
  TRANSFORM_SUM_OFFSET,
  transformWords,
} from './gpu-job.js';

/** What one run of the GPU did. */
export interface GpuExecution {
  readonly status: 'done' | 'faulted';
  /** The PASID the job ran under (-1 when its descriptor could not be fetched or decoded). */
  readonly pasid: number;
  readonly job: GpuJob | undefined;
  /** Bytes the GPU read and wrote before finishing or faulting. */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** The value the kernel stored (the transform's sum, the checksum), when done. */
  readonly result: number | undefined;
  /** Why the job stopped, when faulted. */
  readonly error: KernelError | undefined;
}

/**
 * The GPU's hardware, reduced to a front end and two kernels: it fetches a descriptor from the ring
 * (a DMA read without PASID), then runs the job with every access tagged with the descriptor's
 * PASID, so the SMMU translates each address through that process's page table. A transfer the
 * SMMU refuses stops the job: nothing of that transfer moves.
 */
export class GpuEngine {
  private readonly descriptor = new Uint8Array(DESCRIPTOR_SIZE);
  private readonly word = new Uint8Array(8);
  private input = new Uint8Array(0);
  private output = new Uint8Array(0);
  private bytesRead = 0;
  private bytesWritten = 0;

  constructor(readonly device: Device) {}

  /** Fetches the descriptor at `descriptorAddr` and runs it to completion or to its first fault. */
  execute(descriptorAddr: number): GpuExecution {
    this.bytesRead = 0;
    this.bytesWritten = 0;
    const fetched = this.device.dmaRead(descriptorAddr, this.descriptor, 0, DESCRIPTOR_SIZE);
    if (E.isLeft(fetched)) return this.stop(-1, undefined, fetched.left);
    const decoded = decodeDescriptor(this.descriptor);
    if (decoded === undefined) {
      return this.stop(-1, undefined, kernelError('EIO', `${this.device.name}: bad descriptor opcode`));
    }
    const { job, pasid } = decoded;
    const result = job.kind === 'transform' ? this.transform(job, pasid) : this.checksum(job, pasid);
    return E.isLeft(result)
      ? this.stop(pasid, job, result.left)
      : {
          status: 'done',
          pasid,
          job,
          bytesRead: this.bytesRead,
          bytesWritten: this.bytesWritten,
          result: result.right,
          error: undefined,
        };
  }

  private transform(job: GpuJob & { kind: 'transform' }, pasid: number): KResult<number> {
    const bytes = job.count * 4;
    const params = this.read(job.params, this.word, 8, pasid);
    if (E.isLeft(params)) return params;
    const v = new DataView(this.word.buffer);
    const scale = v.getUint32(0, true);
    const bias = v.getUint32(4, true);
    this.reserve(bytes);
    const src = this.read(job.src, this.input, bytes, pasid);
    if (E.isLeft(src)) return src;
    const sum = transformWords(this.input, this.output, job.count, scale, bias);
    const dst = this.write(job.dst, this.output, bytes, pasid);
    if (E.isLeft(dst)) return dst;
    v.setUint32(0, sum, true);
    const stored = this.write(job.params + TRANSFORM_SUM_OFFSET, this.word, 4, pasid);
    return E.isLeft(stored) ? stored : E.right(sum);
  }

  private checksum(job: GpuJob & { kind: 'checksum' }, pasid: number): KResult<number> {
    this.reserve(job.length);
    const src = this.read(job.src, this.input, job.length, pasid);
    if (E.isLeft(src)) return src;
    const hash = fnv1a(this.input, job.length);
    new DataView(this.word.buffer).setUint32(0, hash, true);
    const stored = this.write(job.dst, this.word, 4, pasid);
    return E.isLeft(stored) ? stored : E.right(hash);
  }

  private read(va: number, into: Uint8Array, length: number, pasid: number): KResult<void> {
    const r = this.device.dmaRead(va, into, 0, length, pasid);
    if (E.isRight(r)) this.bytesRead += length;
    return r;
  }

  private write(va: number, from: Uint8Array, length: number, pasid: number): KResult<void> {
    const r = this.device.dmaWrite(va, from, 0, length, pasid);
    if (E.isRight(r)) this.bytesWritten += length;
    return r;
  }

  /** Grows the GPU's local buffers to hold `bytes`. */
  private reserve(bytes: number): void {
    if (this.input.length >= bytes) return;
    this.input = new Uint8Array(bytes);
    this.output = new Uint8Array(bytes);
  }

  private stop(pasid: number, job: GpuJob | undefined, error: KernelError): GpuExecution {
    return {
      status: 'faulted',
      pasid,
      job,
      bytesRead: this.bytesRead,
      bytesWritten: this.bytesWritten,
      result: undefined,
      error,
    };
  }
}
