import { createSystem } from '@sharedbuf/dma-buf';
import { armSmmu } from '@sharedbuf/iommu';
import { PAGE_SIZE, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { cameraPattern } from '../src/camera.js';
import { fnv1a } from '../src/gpu-job.js';
import { FRAME_VA, formatGpuPerMmReport, GpuDriver, type JobOutcome, runGpuPerMm } from '../src/index.js';

const r = runGpuPerMm();
const [ctxA, ctxB] = r.contexts;
const job = (id: number): JobOutcome => r.jobs.find((j) => j.id === id)!;
const space = (pid: number) => r.spaces.find((s) => s.pid === pid)!;
const vma = (pid: number, name: string) => space(pid).vmas.find((v) => v.name === name)!;

describe('gpu-per-mm: one GPU address space per mm (seed 002)', () => {
  it('each process that opens the GPU gets its own PASID and SVA domain (drivers/iommu/iommu-sva.c)', () => {
    expect(r.contexts).toHaveLength(2);
    expect(ctxA!.pasid).not.toBe(ctxB!.pasid);
    expect(ctxA!.domain).not.toBe(ctxB!.domain);
    expect(ctxA!.pasid).toBeGreaterThan(0);
  });

  it('the bus address the GPU uses is the user address, in each process', () => {
    for (const pid of [ctxA!.pid, ctxB!.pid]) expect(r.busChecks.some((c) => c.pid === pid)).toBe(true);
    for (const c of r.busChecks) {
      expect(c.cpuPhys).toBeGreaterThanOrEqual(0);
      expect(c.gpuPhys).toBe(c.cpuPhys);
    }
  });

  it('the same user address in two processes reaches two different pages', () => {
    const inputs = r.busChecks.filter((c) => c.what === 'input');
    expect(inputs).toHaveLength(2);
    expect(inputs[0]!.va).toBe(inputs[1]!.va);
    expect(inputs[0]!.gpuPhys).not.toBe(inputs[1]!.gpuPhys);
  });

  it("each process's job computes on that process's own data", () => {
    for (const id of [1, 2, 5]) {
      const j = job(id);
      expect(j.status).toBe('done');
      expect(j.result).toBe(j.expected);
      expect(j.readBack).toBe(j.expected);
      expect(j.outputMatches).toBe(true);
    }
    expect(job(1).pid).toBe(ctxA!.pid);
    expect(job(2).pid).toBe(ctxB!.pid);
    expect(job(1).result).not.toBe(job(2).result);
  });

  it('untouched pages fault in through the mm on the GPU’s first access (iommu_sva_handle_iopf, drivers/iommu/iommu-sva.c)', () => {
    expect(job(1).pageRequests).toBe(4);
    expect(job(2).pageRequests).toBe(4);
    expect(vma(ctxA!.pid, 'output').gpuFaulted).toBe(4);
    expect(vma(ctxA!.pid, 'input').gpuFaulted).toBe(0);
    const served = r.faults.served.filter((f) => f.jobId === 1);
    expect(served.every((f) => f.write && f.pid === ctxA!.pid && f.backing === 'anonymous')).toBe(true);
    expect(job(5).pageRequests).toBe(0);
  });

  it("a job reaching another process's memory faults and is attributed to the submitter by PASID", () => {
    const attempt = job(r.isolation.jobId);
    expect(attempt.pid).toBe(ctxB!.pid);
    expect(attempt.status).toBe('faulted');
    expect(attempt.error?.code).toBe('EFAULT');
    const refused = r.faults.refused.filter((f) => f.jobId === attempt.id);
    expect(refused).toEqual([
      {
        jobId: attempt.id,
        pid: ctxB!.pid,
        process: ctxB!.process,
        pasid: ctxB!.pasid,
        va: FRAME_VA,
        write: false,
        reason: 'unmapped',
      },
    ]);
    expect(r.faults.iommu).toContainEqual({
      pasid: ctxB!.pasid,
      iova: FRAME_VA,
      write: false,
      reason: 'unmapped',
    });
    expect(r.faults.served.filter((f) => f.jobId === attempt.id)).toEqual([]);
  });

  it('munmap in the process revokes the GPU’s access through the mmu notifier (mm/mmu_notifier.c)', () => {
    const after = job(r.revocation.jobId);
    expect(after.pid).toBe(r.revocation.pid);
    expect(after.status).toBe('faulted');
    const refused = r.faults.refused.find((f) => f.jobId === after.id)!;
    expect(refused).toMatchObject({
      pid: ctxA!.pid,
      pasid: ctxA!.pasid,
      va: r.revocation.start,
      reason: 'unmapped',
    });
    expect(job(5).status).toBe('done');
  });

  it('buffer objects get no kernel mapping (DMA_ATTR_NO_KERNEL_MAPPING, Documentation/core-api/dma-attributes.rst)', () => {
    expect(r.bos).toHaveLength(2);
    for (const b of r.bos) expect(b.kernelMapping).toBe(false);
    expect(vma(ctxA!.pid, 'gpu-bo:params').memoryType).toBe('write-combine');
  });

  it('mapping with DMA_ATTR_SKIP_CPU_SYNC does no cache maintenance; the flushes happen at submit (Documentation/core-api/dma-attributes.rst)', () => {
    expect(r.ring.mapWork.ops).toBe(0);
    // The input's 16 KiB were written by the CPU: 256 dirty lines reach memory at submit, plus the descriptor.
    expect(job(1).submitCache.linesWrittenBack).toBe(257);
    expect(job(1).completionCache.bytes).toBe(16 * 1024);
    for (const j of r.jobs) expect(j.submitCache.dirtyBytesLost + j.completionCache.dirtyBytesLost).toBe(0);
  });

  it("a camera's dma-buf imported at a chosen address is read correctly by the GPU there", () => {
    expect(r.imports).toEqual([expect.objectContaining({ va: FRAME_VA, exporter: 'cam0', pid: ctxA!.pid })]);
    const j = job(3);
    expect(j.job).toMatchObject({ kind: 'checksum', src: FRAME_VA });
    expect(j.status).toBe('done');
    expect(j.expected).toBe(fnv1a(cameraPattern(0x1_0000), 0x1_0000));
    expect(j.result).toBe(j.expected);
    expect(j.readBack).toBe(j.expected);
    expect(vma(ctxA!.pid, 'dmabuf:cam-frame')).toMatchObject({
      start: FRAME_VA,
      prot: 'r--',
      gpuFaulted: 16,
    });
    expect(r.busChecks.find((c) => c.what.startsWith('dmabuf'))?.gpuPhys).toBeGreaterThanOrEqual(0);
  });

  it('the correct paths leave DMA debug silent and no mapping behind', () => {
    expect(r.dmaDebugFindings).toEqual([]);
    expect(r.leakedMappings).toBe(0);
  });

  it('time comes from the simulated clock and the run is deterministic', () => {
    expect(r.jobs.every((j) => j.submittedAt <= j.startedAt && j.startedAt < j.completedAt)).toBe(true);
    expect(r.endNs).toBe(r.jobs[r.jobs.length - 1]!.completedAt);
    expect(JSON.stringify(runGpuPerMm())).toBe(JSON.stringify(r));
  });

  it('the report shows each address space, the jobs and the faults', () => {
    const text = formatGpuPerMmReport(r);
    expect(text).toContain('render (pid 1), PASID 1');
    expect(text).toContain('compute (pid 2), PASID 2');
    expect(text).toContain('dmabuf:cam-frame');
    expect(text).toContain('I/O page faults served: 24');
    expect(text).toContain('mapped only in render');
  });
});

describe('GpuDriver calls that fail change nothing', () => {
  const setup = () => {
    const sys = createSystem({ iommus: [armSmmu({ name: 'smmu0' })] });
    const gpu = unwrap(sys.platform.devices.add({ name: 'gpu0', dmaMask: 48 }));
    unwrap(sys.iommu.probeDevice(gpu, { instance: 'smmu0', streamId: 0 }));
    const driver = unwrap(GpuDriver.probe({ ...sys, gpu }));
    const proc = sys.platform.processes.spawn('app');
    return { ...sys, gpu, driver, proc, ctx: unwrap(driver.open(proc)) };
  };
  const code = <T>(x: E.Either<{ code: string }, T>) => (E.isLeft(x) ? x.left.code : 'ok');

  it('every driver state change emits an event on its bus', () => {
    const m = setup();
    const seen: string[] = [];
    m.driver.bus.tap((_source, type) => seen.push(type));
    const bo = unwrap(m.driver.createBo(m.ctx, 'b', PAGE_SIZE, 0x1000_0000));
    unwrap(m.driver.submit(m.ctx, 'j', { kind: 'checksum', src: bo.va, dst: bo.va + 64, length: 64 }));
    unwrap(m.driver.open(m.platform.processes.spawn('other')));
    unwrap(m.driver.remove());
    expect(seen).toEqual(['bo-create', 'submit', 'complete', 'open', 'close', 'close']);
  });

  it('opening twice from one process is EBUSY', () => {
    const m = setup();
    expect(code(m.driver.open(m.proc))).toBe('EBUSY');
    expect(m.driver.contexts()).toHaveLength(1);
  });

  it('a buffer object over an existing mapping is EEXIST and its memory is freed again', () => {
    const m = setup();
    const va = unwrap(m.proc.mm.mmap({ length: PAGE_SIZE, prot: { read: true, write: true } }));
    const before = m.dma.debug.dump(m.gpu).length;
    expect(code(m.driver.createBo(m.ctx, 'x', PAGE_SIZE, va))).toBe('EEXIST');
    expect(m.dma.debug.dump(m.gpu)).toHaveLength(before);
    expect(m.ctx.bos).toEqual([]);
  });

  it('a malformed job is EINVAL and nothing reaches the ring; a closed file is EBADF', () => {
    const m = setup();
    const bad = m.driver.submit(m.ctx, 'bad', { kind: 'checksum', src: 0x1000, dst: 0x2000, length: 0 });
    expect(code(bad)).toBe('EINVAL');
    expect(m.platform.clock.now()).toBe(0);
    unwrap(m.driver.close(m.ctx));
    const late = m.driver.submit(m.ctx, 'late', { kind: 'checksum', src: 0x1000, dst: 0x2000, length: 4 });
    expect(code(late)).toBe('EBADF');
    expect(code(m.driver.close(m.ctx))).toBe('EBADF');
  });

  it('importing over an address that is already mapped is refused (EEXIST) and its reference dropped', () => {
    const m = setup();
    const buf = unwrap(m.dmabuf.export({ name: 'movable', size: PAGE_SIZE }));
    const fd = unwrap(m.dmabuf.fdTable(m.proc).install(buf));
    const refs = buf.refcount;
    unwrap(
      m.proc.mm.mmap({
        addr: 0x3000_0000,
        fixed: true,
        length: PAGE_SIZE,
        prot: { read: true, write: true },
      }),
    );
    expect(code(m.driver.importDmaBuf(m.ctx, fd, 0x3000_0000))).toBe('EEXIST');
    expect(buf.refcount).toBe(refs);
  });
});
