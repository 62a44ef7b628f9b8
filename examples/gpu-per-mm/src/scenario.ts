import { createSystem, type SharedBufSystem } from '@sharedbuf/dma-buf';
import { armSmmu } from '@sharedbuf/iommu';
import { type Device, PAGE_SIZE, unwrap } from '@sharedbuf/platform';
import { gpuAddressSpace } from './address-space.js';
import { checkBusAddress } from './bus-address-check.js';
import { captureFrame } from './camera.js';
import { DEFAULT_GPU_COSTS, type GpuCosts } from './costs.js';
import { GpuDriver } from './gpu-driver.js';
import { fnv1a } from './gpu-job.js';
import type { JobReport } from './job-report.js';
import type { DeviceSummary, GpuPerMmResult, JobOutcome } from './result.js';
import { CHECKSUM_SLOT, UserApp } from './user-app.js';

/** Knobs of {@link runGpuPerMm}. */
export interface GpuPerMmOptions {
  /** 32-bit words in each process's input and output arrays (default 4096: 16 KiB, 4 pages). */
  readonly words?: number;
  /** Bytes of the camera frame (default 64 KiB). */
  readonly frameBytes?: number;
  /** Cost assumptions overriding {@link DEFAULT_GPU_COSTS}. */
  readonly costs?: Partial<GpuCosts>;
  /** Run on this machine (it must have an SVA-capable SMMU named `smmu0`) instead of a new one. */
  readonly system?: SharedBufSystem;
}

/** Where each process asks the driver to put its parameter buffer object. */
export const PARAMS_VA = 0x1000_0000;
/** Where process A imports the camera frame: mapped in A only. */
export const FRAME_VA = 0x2000_0000;

const summary = (dev: Device, iommu: string | null): DeviceSummary => ({
  name: dev.name,
  coherent: dev.coherent,
  dmaMaskBits: dev.dmaMask.bits,
  iommu,
});

/**
 * Two processes share a non-coherent GPU behind an ARM SMMU with SVA, as seed 002 asks: one GPU
 * address space per mm, bus address = user address, pages faulted in by the GPU, munmap revoking the
 * GPU's access, no process reaching another's memory, buffers without a kernel mapping, cache
 * flushes at submit, and a camera's dma-buf imported at a chosen address. Builds its own machine and
 * returns what happened as plain data.
 */
export const runGpuPerMm = (options: GpuPerMmOptions = {}): GpuPerMmResult => {
  const words = options.words ?? 4096;
  const frameBytes = options.frameBytes ?? 0x1_0000;
  const costs: GpuCosts = { ...DEFAULT_GPU_COSTS, ...options.costs };
  const { platform, iommu, dma, dmabuf } =
    options.system ?? createSystem({ iommus: [armSmmu({ name: 'smmu0' })] });
  const gpu = unwrap(platform.devices.add({ name: 'gpu0', dmaMask: 48, coherentDmaMask: 48 }));
  unwrap(iommu.probeDevice(gpu, { instance: 'smmu0', streamId: 0 }));
  const camera = unwrap(platform.devices.add({ name: 'cam0', dmaMask: 32 }));
  const driver = unwrap(GpuDriver.probe({ platform, iommu, dma, dmabuf, gpu, costs }));

  const ctxA = unwrap(driver.open(platform.processes.spawn('render')));
  const ctxB = unwrap(driver.open(platform.processes.spawn('compute')));
  const appA = unwrap(
    UserApp.start(driver, ctxA, { first: 1, step: 3, scale: 2, bias: 5 }, words, PARAMS_VA),
  );
  const appB = unwrap(
    UserApp.start(driver, ctxB, { first: 1_000_000, step: 7, scale: 3, bias: 0x100 }, words, PARAMS_VA),
  );

  const jobs: JobOutcome[] = [];
  const transform = (app: UserApp, label: string): JobOutcome => {
    const report = unwrap(driver.submit(app.ctx, label, app.transformJob()));
    const want = app.expected();
    const outcome =
      report.status === 'done'
        ? {
            expected: want.sum,
            readBack: app.readSum(),
            outputMatches: sameBytes(app.readOutput(), want.output),
          }
        : { expected: undefined, readBack: undefined, outputMatches: undefined };
    jobs.push({ ...report, ...outcome });
    return jobs[jobs.length - 1] as JobOutcome;
  };
  const checksum = (app: UserApp, label: string, src: number, expected: number | undefined): JobOutcome => {
    const dst = app.params.va + CHECKSUM_SLOT;
    const report: JobReport = unwrap(
      driver.submit(app.ctx, label, { kind: 'checksum', src, dst, length: frameBytes }),
    );
    const readBack = report.status === 'done' ? app.readParamWord(CHECKSUM_SLOT) : undefined;
    jobs.push({ ...report, expected, readBack, outputMatches: undefined });
    return jobs[jobs.length - 1] as JobOutcome;
  };

  transform(appA, 'transform input → output');
  transform(appB, 'transform input → output (same addresses as render)');

  const capture = unwrap(captureFrame(dmabuf, camera, 'cam-frame', frameBytes));
  const fd = unwrap(dmabuf.fdTable(ctxA.process).install(capture.buf));
  const imported = unwrap(driver.importDmaBuf(ctxA, fd, FRAME_VA));
  checksum(appA, 'checksum of the imported camera frame', FRAME_VA, fnv1a(capture.frame, frameBytes));
  const attempt = checksum(appB, "checksum at render's frame address", FRAME_VA, undefined);
  transform(appA, 'transform again (pages resident)');

  const spaces = [ctxA, ctxB].map((ctx) => gpuAddressSpace(ctx, driver.faults.served));
  const busChecks = [
    checkBusAddress(gpu, ctxA, appA.input, 'input'),
    checkBusAddress(gpu, ctxB, appB.input, 'input'),
    checkBusAddress(gpu, ctxA, appA.output + PAGE_SIZE, 'output, 2nd page'),
    checkBusAddress(gpu, ctxB, appB.output + PAGE_SIZE, 'output, 2nd page'),
    checkBusAddress(gpu, ctxA, appA.params.va, 'gpu-bo:params'),
    checkBusAddress(gpu, ctxB, appB.params.va, 'gpu-bo:params'),
    checkBusAddress(gpu, ctxA, FRAME_VA + 3 * PAGE_SIZE + 0x40, 'dmabuf:cam-frame, 4th page'),
  ];

  const inputBytes = words * 4;
  unwrap(ctxA.process.mm.munmap(appA.input, inputBytes));
  const revoked = transform(appA, 'transform after munmap(input)');

  const contexts = [ctxA, ctxB].map((ctx) => ({
    pid: ctx.process.pid,
    process: ctx.process.name,
    pasid: ctx.pasid,
    domain: ctx.sva.domain.id,
  }));
  const bos = [appA, appB].map((app) => ({
    pid: app.process.pid,
    process: app.process.name,
    name: app.params.name,
    va: app.params.va,
    size: app.params.size,
    kernelMapping: app.params.allocation.cpu !== undefined,
    kernelIova: app.params.allocation.dmaAddr,
  }));
  const imports = [
    {
      pid: ctxA.process.pid,
      process: ctxA.process.name,
      buffer: capture.buf.name,
      exporter: camera.name,
      heap: capture.buf.backing?.heap ?? '?',
      size: capture.buf.size,
      fd,
      va: imported.va,
      writable: imported.writable,
    },
  ];
  const ringMapWork = driver.ringMapWork;
  const ring = { dmaAddr: driver.ring.dmaAddr, slots: driver.ring.slots, mapWork: ringMapWork };

  unwrap(driver.remove());
  unwrap(dmabuf.fdTable(ctxA.process).close(fd));
  unwrap(capture.buf.detach(capture.attachment));
  unwrap(capture.buf.put());
  const leakedMappings = dma.debug.dump(gpu).length;
  unwrap(platform.devices.remove(gpu.name));

  return {
    arch: platform.arch,
    iommu: 'smmu0 (ARM SMMU, SVA with 20-bit PASIDs)',
    gpu: summary(gpu, 'smmu0'),
    camera: summary(camera, null),
    costs,
    ring,
    contexts,
    bos,
    imports,
    spaces,
    busChecks,
    jobs,
    faults: {
      served: [...driver.faults.served],
      refused: [...driver.faults.refused],
      iommu: iommu.faults.map((f) => ({ pasid: f.pasid, iova: f.iova, write: f.write, reason: f.reason })),
    },
    isolation: { jobId: attempt.id, attacker: ctxB.process.pid, owner: ctxA.process.pid, va: FRAME_VA },
    revocation: { jobId: revoked.id, pid: ctxA.process.pid, start: appA.input, end: appA.input + inputBytes },
    dmaDebugFindings: [...dma.debug.findings()],
    leakedMappings,
    endNs: platform.clock.now(),
  };
};

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);
