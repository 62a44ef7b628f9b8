import { unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  type ConflictCertificate,
  DmaFence,
  type DmaResv,
  DmaResvUsage,
  type FenceDomain,
  satisfies,
} from '../src/index.js';
import { bufMachine, DmaDirection, devRead, realDevices, segments } from './fixture.js';

const MiB = 2 ** 20;
const { BIDIRECTIONAL, TO_DEVICE, FROM_DEVICE } = DmaDirection;
const code = (r: E.Either<{ code: string }, unknown>) => (E.isLeft(r) ? r.left.code : 'ok');

describe('buffers and lifetime (drivers/dma-buf/dma-buf.c)', () => {
  it('the exporter release runs once, when the last reference goes; any use after is EBADF', () => {
    const m = bufMachine();
    let released = 0;
    const buf = unwrap(m.core.export({ name: 'frame', size: MiB, release: () => released++ }));
    unwrap(buf.get());
    unwrap(buf.put());
    expect(released).toBe(0);
    unwrap(buf.put());
    expect(released).toBe(1);
    expect(code(buf.put())).toBe('EBADF');
    expect(code(buf.attach(m.device({ name: 'd' })))).toBe('EBADF');
    expect(code(buf.vmap())).toBe('EBADF');
  });

  it('per-process descriptor tables: install takes a reference, close drops it, the lowest fd is reused', () => {
    const m = bufMachine();
    const a = m.platform.processes.spawn('producer');
    const b = m.platform.processes.spawn('consumer');
    const buf = unwrap(m.core.export({ name: 'shared', size: MiB }));
    const fa = unwrap(m.core.fdTable(a).install(buf));
    const fb = unwrap(m.core.fdTable(b).install(buf));
    expect([fa, fb]).toEqual([3, 3]);
    unwrap(buf.put()); // the exporter's own reference
    const imported = unwrap(m.core.fdTable(b).get(fb));
    expect(imported).toBe(buf);
    unwrap(imported.put());
    unwrap(m.core.fdTable(a).close(fa));
    expect(code(m.core.fdTable(a).get(fa))).toBe('EBADF');
    unwrap(m.core.fdTable(b).close(fb));
    expect(code(buf.get())).toBe('EBADF');
  });
});

describe('negotiation (the attacher-constraints RFC, seed 002)', () => {
  it('allocation is deferred to the first map, and the backing satisfies every attacher', () => {
    const m = bufMachine();
    const sd = m.device(realDevices.sdhci);
    const usb = m.device(realDevices.usb);
    const isp = m.device({ name: 'isp', dmaMask: 40 }, true);
    const buf = unwrap(m.core.export({ name: 'frame', size: 4 * MiB }));
    const atts = [sd, usb, isp].map((d) => unwrap(buf.attach(d)));
    expect(buf.backing).toBeUndefined();
    for (const att of atts) {
      const sgt = unwrap(buf.mapAttachment(att, BIDIRECTIONAL));
      expect(satisfies(segments(sgt), att.constraints)).toEqual({ ok: true });
    }
    expect(buf.backing?.heap).toBe('system');
    expect(buf.plan?.reasons.length).toBeGreaterThan(0);
    expect(segments(unwrap(buf.mapAttachment(atts[0]!, BIDIRECTIONAL))).length).toBeLessThanOrEqual(128);
    expect(m.dma.debug.findings()).toEqual([]);
  });

  it('a display needing one contiguous range in the bottom 1 GiB gets CMA memory there', () => {
    const m = bufMachine();
    const display = m.device(realDevices.display);
    const codec = m.device(realDevices.codec32);
    const buf = unwrap(m.core.export({ name: 'scanout', size: 8 * MiB }));
    const d = unwrap(buf.attach(display, { constraints: { acceptsBounce: false } }));
    const c = unwrap(buf.attach(codec));
    const sgt = unwrap(buf.mapAttachment(d, TO_DEVICE));
    expect(buf.backing?.heap).toBe('reserved');
    expect(segments(sgt)).toHaveLength(1);
    expect(segments(sgt)[0]!.dmaAddress + 8 * MiB).toBeLessThanOrEqual(2 ** 30);
    expect(satisfies(segments(unwrap(buf.mapAttachment(c, TO_DEVICE))), c.constraints)).toEqual({ ok: true });
  });

  it('constraints that cannot be met together are refused with a certificate a pipeline author can act on', () => {
    const m = bufMachine();
    const display = m.device(realDevices.display);
    const buf = unwrap(m.core.export({ name: 'huge', size: 512 * MiB }));
    const att = unwrap(buf.attach(display, { constraints: { acceptsBounce: false } }));
    const r = buf.mapAttachment(att, TO_DEVICE);
    expect(E.isLeft(r) && r.left.code).toBe('EINVAL'); // no heap could ever hold it
    const cert = (E.isLeft(r) ? r.left.detail.certificate : undefined) as ConflictCertificate;
    expect(cert.field).toBe('contiguity');
    expect(cert.imposedBy.map((i) => i.attacher)).toContain('display');
    expect(r._tag === 'Left' && r.left.message).toMatch(/display/);
    expect(buf.backing).toBeUndefined();
  });

  it('the planner answers without allocating', () => {
    const m = bufMachine();
    const free = m.platform.pages.freePageCount();
    const plan = unwrap(
      m.core.plan(8 * MiB, [
        { device: m.device(realDevices.display) },
        { device: m.device(realDevices.sdhci) },
      ]),
    );
    expect(plan.heap).toBe('reserved');
    expect(m.platform.pages.freePageCount()).toBe(free);
  });

  it('detach recomputes the combination (the RFC’s recalc)', () => {
    const m = bufMachine();
    const buf = unwrap(m.core.export({ name: 'b', size: MiB }));
    const a = unwrap(buf.attach(m.device(realDevices.sdhci)));
    const b = unwrap(buf.attach(m.device(realDevices.usb)));
    expect(buf.combined().segmentBoundaryMask.value).toBe(0xffff);
    unwrap(buf.detach(b));
    expect(buf.combined().segmentBoundaryMask.value).toBe(0xffff_ffff);
    expect(code(buf.detach(b))).toBe('EINVAL');
    unwrap(buf.detach(a));
  });
});

/** An unsignalled WRITE fence on the buffer's reservation object: the ISP's job still in flight. */
const pendingWriteFence = (fences: FenceDomain, resv: DmaResv): DmaFence => {
  const ops = { getDriverName: () => 'isp', getTimelineName: () => 'isp.0' };
  const fence = new DmaFence(fences, ops, fences.contextAlloc(1), 1);
  unwrap(resv.lock());
  resv.reserveFences(1);
  resv.addFence(fence, DmaResvUsage.WRITE);
  resv.unlock();
  return fence;
};

describe('late attachers', () => {
  const setup = () => {
    const m = bufMachine();
    const isp = m.device({ name: 'isp', dmaMask: 40 }, true);
    const enc = m.device({ name: 'enc', dmaMask: 40 }, true);
    const buf = unwrap(m.core.export({ name: 'frame', size: 4 * MiB }));
    return { ...m, isp, enc, buf };
  };

  it('a late attacher the backing already satisfies is accepted without moving anything', () => {
    const m = setup();
    const a = unwrap(m.buf.attach(m.isp));
    unwrap(m.buf.mapAttachment(a, BIDIRECTIONAL));
    const before = m.buf.backing;
    unwrap(m.buf.attach(m.enc));
    expect(m.buf.backing).toBe(before);
  });

  it('a late stricter attacher makes the exporter migrate: no byte lost, importers notified, old mappings invalidated', () => {
    const m = setup();
    const notified: string[] = [];
    const importer = { moveNotify: (att: { device: { name: string } }) => notified.push(att.device.name) };
    const a = unwrap(m.buf.attach(m.isp, { importer }));
    const sgt = unwrap(m.buf.mapAttachment(a, BIDIRECTIONAL));
    const oldIova = sgt.dmaAddress(0);
    const pattern = Uint8Array.from({ length: 8192 }, (_, i) => (i * 7) & 0xff);
    unwrap(m.isp.dmaWrite(oldIova + 4 * MiB - 8192, pattern, 0, 8192));
    const proc = m.platform.processes.spawn('viewer');
    const va = unwrap(m.buf.mmap(proc));
    expect(m.buf.backing?.heap).toBe('system');

    const display = m.device(realDevices.display);
    const d = unwrap(m.buf.attach(display, { constraints: { acceptsBounce: false } }));
    expect(notified).toEqual(['isp']);
    expect(m.buf.backing?.heap).toBe('reserved');
    expect(m.buf.isInvalidated(sgt)).toBe(true);
    expect(devRead(m.isp, oldIova, 1)).toBe('EFAULT');

    const fresh = unwrap(m.buf.mapAttachment(a, BIDIRECTIONAL));
    expect(devRead(m.isp, fresh.dmaAddress(0) + 4 * MiB - 8192, 4)).toEqual([...pattern.subarray(0, 4)]);
    const scan = unwrap(m.buf.mapAttachment(d, TO_DEVICE));
    expect(devRead(display, segments(scan)[0]!.dmaAddress + 4 * MiB - 8192 + 100, 1)).toEqual([pattern[100]]);
    const seen = new Uint8Array(4);
    unwrap(proc.mm.read(va + 4 * MiB - 8192, seen, 0, 4));
    expect([...seen]).toEqual([...pattern.subarray(0, 4)]);
  });

  it('with a static importer the backing cannot move: the late attacher is refused (EBUSY, certificate) and nothing changes', () => {
    const m = setup();
    const a = unwrap(m.buf.attach(m.isp));
    const sgt = unwrap(m.buf.mapAttachment(a, BIDIRECTIONAL));
    const backing = m.buf.backing;
    const r = m.buf.attach(m.device(realDevices.display), { constraints: { acceptsBounce: false } });
    expect(E.isLeft(r) && r.left.code).toBe('EBUSY');
    const cert = (E.isLeft(r) ? r.left.detail.certificate : undefined) as ConflictCertificate;
    expect(cert.imposedBy[0]?.attacher).toBe('display');
    expect(E.isLeft(r) && r.left.message).toMatch(/isp is a static importer/);
    expect(m.buf.backing).toBe(backing);
    expect(m.buf.attachments).toHaveLength(1);
    expect(m.buf.isInvalidated(sgt)).toBe(false);
  });

  it('a migration waits for work in flight on the buffer: it copies only after the write fence signals', () => {
    const m = setup();
    const a = unwrap(m.buf.attach(m.isp, { importer: { moveNotify: () => {} } }));
    unwrap(m.buf.mapAttachment(a, BIDIRECTIONAL));
    const fence = pendingWriteFence(m.core.fences, m.buf.resv);
    m.platform.clock.at(5_000_000, () => unwrap(fence.signal()));
    unwrap(m.buf.attach(m.device(realDevices.display), { constraints: { acceptsBounce: false } }));
    expect(m.platform.clock.now()).toBe(5_000_000);
    expect(m.buf.backing?.heap).toBe('reserved');
  });

  it('work that never completes blocks the migration: EBUSY after the bounded wait, backing unchanged', () => {
    const m = setup();
    const a = unwrap(m.buf.attach(m.isp, { importer: { moveNotify: () => {} } }));
    unwrap(m.buf.mapAttachment(a, BIDIRECTIONAL));
    const fence = pendingWriteFence(m.core.fences, m.buf.resv);
    const backing = m.buf.backing;
    const r = m.buf.attach(m.device(realDevices.display), { constraints: { acceptsBounce: false } });
    expect(code(r)).toBe('EBUSY');
    expect(E.isLeft(r) && r.left.message).toMatch(/still in flight/);
    expect(m.buf.backing).toBe(backing);
    unwrap(fence.signal());
  });

  it('an exporter that forbids migration refuses too', () => {
    const m = bufMachine();
    const buf = unwrap(m.core.export({ name: 'pinned', size: MiB, allowMigration: false }));
    const isp = m.device({ name: 'isp', dmaMask: 40 }, true);
    const a = unwrap(buf.attach(isp, { importer: { moveNotify: () => {} } }));
    unwrap(buf.mapAttachment(a, BIDIRECTIONAL));
    expect(code(buf.attach(m.device(realDevices.display), { constraints: { acceptsBounce: false } }))).toBe(
      'EBUSY',
    );
  });
});

describe('attachments and CPU access', () => {
  it('map_attachment is cached per attachment; another direction while mapped is EBUSY', () => {
    const m = bufMachine();
    const buf = unwrap(m.core.export({ name: 'b', size: MiB }));
    const att = unwrap(buf.attach(m.device({ name: 'isp', dmaMask: 40 }, true), { peer2peer: true }));
    const s1 = unwrap(buf.mapAttachment(att, TO_DEVICE));
    expect(unwrap(buf.mapAttachment(att, TO_DEVICE))).toBe(s1);
    expect(code(buf.mapAttachment(att, FROM_DEVICE))).toBe('EBUSY');
    expect(att.peer2peer).toBe(true);
    unwrap(buf.unmapAttachment(att, s1, TO_DEVICE));
    expect(code(buf.unmapAttachment(att, s1, TO_DEVICE))).toBe('ok');
  });

  it('begin/end_cpu_access do the cache maintenance for non-coherent attachers (vmap sees the device data)', () => {
    const m = bufMachine();
    const buf = unwrap(m.core.export({ name: 'b', size: 64 * 1024 }));
    const cam = m.device({ name: 'cam', dmaMask: 32 });
    const att = unwrap(buf.attach(cam));
    const sgt = unwrap(buf.mapAttachment(att, FROM_DEVICE));
    const view = unwrap(buf.vmap());
    const b = new Uint8Array(1);
    unwrap(buf.beginCpuAccess(FROM_DEVICE));
    unwrap(view.read(0, b, 0, 1)); // the CPU caches the line
    unwrap(buf.endCpuAccess(FROM_DEVICE));
    unwrap(cam.dmaWrite(sgt.dmaAddress(0), Uint8Array.of(0x5a), 0, 1));
    unwrap(buf.beginCpuAccess(FROM_DEVICE));
    unwrap(view.read(0, b, 0, 1));
    expect(b[0]).toBe(0x5a);
    unwrap(buf.endCpuAccess(FROM_DEVICE));
  });

  it('a buffer exported without a kernel mapping has no vmap (seed 002)', () => {
    const m = bufMachine();
    const buf = unwrap(m.core.export({ name: 'gpu-only', size: MiB, kernelMapping: false }));
    expect(code(buf.vmap())).toBe('EOPNOTSUPP');
  });

  it('mmap puts the real bytes into a process', () => {
    const m = bufMachine();
    const buf = unwrap(m.core.export({ name: 'b', size: MiB }));
    const view = unwrap(buf.vmap());
    unwrap(view.write(4096 + 3, Uint8Array.of(1, 2), 0, 2));
    const proc = m.platform.processes.spawn('app');
    const va = unwrap(buf.mmap(proc));
    const b = new Uint8Array(2);
    unwrap(proc.mm.read(va + 4096 + 3, b, 0, 2));
    expect([...b]).toEqual([1, 2]);
  });

  it('events trace export, attach, negotiate, allocate and map in order', () => {
    const m = bufMachine();
    const seen: string[] = [];
    m.core.bus.tap((_s, type) => seen.push(type));
    const buf = unwrap(m.core.export({ name: 'b', size: MiB }));
    unwrap(buf.mapAttachment(unwrap(buf.attach(m.device({ name: 'x', dmaMask: 64 }))), TO_DEVICE));
    expect(seen).toEqual(['export', 'attach', 'negotiate', 'allocate', 'map']);
  });
});
