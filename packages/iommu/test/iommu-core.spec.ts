import { unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import {
  IOMMU_READ,
  IOMMU_WRITE,
  iommuFlushIotlbAll,
  iommuIotlbGatherInit,
  iommuIotlbSync,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmap,
  iommuUnmapFast,
} from '../src/index.js';
import { machine } from './fixture.js';

const RW = IOMMU_READ | IOMMU_WRITE;
const code = <T>(r: E.Either<{ code: string }, T>) => (E.isLeft(r) ? r.left.code : 'ok');

describe('instances and groups', () => {
  it('the device is the key to its IOMMU: each device reaches the instance it was probed behind (seed 001)', () => {
    const m = machine();
    const a = m.device('isp');
    const b = m.device('gpu');
    const ga = unwrap(m.iommu.probeDevice(a, { instance: 'smmu0', streamId: 1 }));
    const gb = unwrap(m.iommu.probeDevice(b, { instance: 'smmu1', streamId: 1 }));
    expect(ga.instance.name).toBe('smmu0');
    expect(gb.instance.name).toBe('smmu1');
    expect(a.iommu).toEqual({ instance: 'smmu0', streamId: 1 });
    expect(m.iommu.domainOf(a)?.type).toBe('dma');
  });

  it('a device outside every group has no IOMMU: its DMA is direct (drivers/iommu/iommu.c)', () => {
    const m = machine();
    const d = m.device('plain');
    const pa = m.page(7);
    expect(m.iommu.groupOf(d)).toBeUndefined();
    expect(m.read(d, pa)).toEqual([7, 7, 7, 7]);
  });

  it('devices that cannot be isolated share a group, and attach acts on the whole group (iommu_attach_group)', () => {
    const m = machine();
    const f0 = m.device('nic.0');
    const f1 = m.device('nic.1');
    const g = unwrap(m.iommu.probeDevice(f0, { instance: 'smmu0', streamId: 8, group: 'bridge0' }));
    expect(unwrap(m.iommu.probeDevice(f1, { instance: 'smmu0', streamId: 9, group: 'bridge0' }))).toBe(g);
    const dom = unwrap(m.iommu.domainAlloc('unmanaged', { instance: 'smmu0' }));
    expect(code(m.iommu.attachDevice(dom, f0))).toBe('EINVAL');
    unwrap(m.iommu.attachGroup(dom, g));
    const pa = m.page(5);
    unwrap(iommuMap(dom, 0x10_0000, pa, 4096, RW));
    expect(m.read(f0, 0x10_0000)).toEqual([5, 5, 5, 5]);
    expect(m.read(f1, 0x10_0000)).toEqual([5, 5, 5, 5]);
  });

  it('a group attached to a non-default domain refuses another attach with EBUSY; detach restores the default (iommu.c __iommu_attach_group)', () => {
    const m = machine();
    const d = m.device('dev');
    const g = unwrap(m.iommu.probeDevice(d, { instance: 'smmu0', streamId: 3 }));
    const def = g.defaultDomain;
    const a = unwrap(m.iommu.domainAlloc('unmanaged', { instance: 'smmu0' }));
    const b = unwrap(m.iommu.domainAlloc('unmanaged', { instance: 'smmu0' }));
    unwrap(m.iommu.attachDevice(a, d));
    expect(code(m.iommu.attachDevice(b, d))).toBe('EBUSY');
    expect(m.iommu.domainOf(d)).toBe(a);
    unwrap(m.iommu.replaceGroupDomain(g, b));
    expect(m.iommu.domainOf(d)).toBe(b);
    expect(code(m.iommu.detachDevice(a, d))).toBe('EINVAL');
    unwrap(m.iommu.detachDevice(b, d));
    expect(m.iommu.domainOf(d)).toBe(def);
    expect(code(m.iommu.domainFree(def))).toBe('EINVAL');
    unwrap(m.iommu.domainFree(a));
    expect(code(m.iommu.domainFree(a))).toBe('EINVAL');
  });

  it('a domain allocated for one instance refuses devices behind another (seed 001; iommu.c owner check)', () => {
    const m = machine();
    const d = m.device('d');
    unwrap(m.iommu.probeDevice(d, { instance: 'smmu1', streamId: 1 }));
    const dom = unwrap(m.iommu.domainAlloc('unmanaged', { instance: 'smmu0' }));
    const r = m.iommu.attachDevice(dom, d);
    expect(E.isLeft(r) && r.left.message).toMatch(/allocated for smmu0, not smmu1/);
  });

  it('a domain without an owner spans instances whose formats agree — one domain per guest (KVM, seed 000/001)', () => {
    const m = machine();
    const a = m.device('a');
    const b = m.device('b');
    const n = m.device('n');
    unwrap(m.iommu.probeDevice(a, { instance: 'smmu0', streamId: 1 }));
    unwrap(m.iommu.probeDevice(b, { instance: 'gfx-mmu', streamId: 1 }));
    unwrap(m.iommu.probeDevice(n, { instance: 'null', streamId: 1 }));
    const guest = unwrap(m.iommu.domainAlloc('unmanaged'));
    unwrap(m.iommu.attachDevice(guest, a));
    unwrap(m.iommu.attachDevice(guest, b));
    expect(guest.geometry.apertureEnd).toBe(0xffff_ffff);
    expect(code(m.iommu.attachDevice(guest, n))).toBe('EINVAL');
    const pa = m.page(9);
    unwrap(iommuMap(guest, 0x4000_0000, pa, 4096, RW));
    expect(m.read(a, 0x4000_0000)).toEqual([9, 9, 9, 9]);
    expect(m.read(b, 0x4000_0000)).toEqual([9, 9, 9, 9]);
    expect(code(iommuMap(guest, 0x1_0000_0000, pa, 4096, RW))).toBe('ERANGE');
  });

  it('an SMMU has a fixed number of contexts; one more paging domain gets ENOSPC (arm-smmu __arm_smmu_alloc_bitmap)', () => {
    const m = machine();
    const d1 = m.device('d1');
    const d2 = m.device('d2');
    unwrap(m.iommu.probeDevice(d1, { instance: 'smmu1', streamId: 1 }));
    expect(code(m.iommu.probeDevice(d2, { instance: 'smmu1', streamId: 2 }))).toBe('ok');
    const extra = unwrap(m.iommu.domainAlloc('unmanaged', { instance: 'smmu1' }));
    unwrap(m.iommu.attachDevice(extra, d1)); // d1's default domain gives its context to `extra`
    expect(code(m.iommu.detachDevice(extra, d1))).toBe('ok');
    const third = m.device('d3');
    expect(code(m.iommu.probeDevice(third, { instance: 'smmu1', streamId: 3 }))).toBe('ENOSPC');
    expect(m.iommu.groupOf(third)).toBeUndefined();
  });

  it('the MSM System MMU is wired to one device and switches its page table on the fly (seed 001)', () => {
    const m = machine();
    const gpu = m.device('gpu');
    unwrap(m.iommu.probeDevice(gpu, { instance: 'gfx-mmu', streamId: 0 }));
    expect(code(m.iommu.probeDevice(m.device('other'), { instance: 'gfx-mmu', streamId: 1 }))).toBe('EBUSY');
    const ctxA = unwrap(m.iommu.domainAlloc('unmanaged', { instance: 'gfx-mmu' }));
    const ctxB = unwrap(m.iommu.domainAlloc('unmanaged', { instance: 'gfx-mmu' }));
    unwrap(iommuMap(ctxA, 0x10_0000, m.page(0xa), 4096, RW));
    unwrap(iommuMap(ctxB, 0x10_0000, m.page(0xb), 4096, RW));
    unwrap(m.iommu.attachDevice(ctxA, gpu));
    expect(m.read(gpu, 0x10_0000, 1)).toEqual([0xa]);
    unwrap(m.iommu.attachDevice(ctxB, gpu));
    expect(m.read(gpu, 0x10_0000, 1)).toEqual([0xb]);
  });

  it('the null backend puts every device in a group of one with identity translation (seed 003)', () => {
    const m = machine();
    const a = m.device('a');
    const b = m.device('b');
    const ga = unwrap(m.iommu.probeDevice(a, { instance: 'null', streamId: 1, group: 'x' }));
    const gb = unwrap(m.iommu.probeDevice(b, { instance: 'null', streamId: 2, group: 'x' }));
    expect(ga).not.toBe(gb);
    expect(ga.domain.type).toBe('identity');
    expect(m.read(a, m.page(3))).toEqual([3, 3, 3, 3]);
    expect(code(m.iommu.domainAlloc('unmanaged', { instance: 'null' }))).toBe('EINVAL');
  });

  it('a blocked domain faults every access', () => {
    const m = machine();
    const d = m.device('d');
    unwrap(m.iommu.probeDevice(d, { instance: 'smmu0', streamId: 1 }));
    unwrap(m.iommu.attachDevice(unwrap(m.iommu.domainAlloc('blocked', { instance: 'smmu0' })), d));
    expect(m.read(d, m.page(1))).toBe('EFAULT');
    expect(m.iommu.faults.at(-1)?.reason).toBe('blocked');
  });

  it('releasing a device returns its DMA to direct translation and frees an empty group', () => {
    const m = machine();
    const d = m.device('d');
    unwrap(m.iommu.probeDevice(d, { instance: 'smmu0', streamId: 1 }));
    unwrap(m.iommu.releaseDevice(d));
    expect(d.iommu).toBeUndefined();
    expect(m.iommu.listGroups()).toHaveLength(0);
    expect(m.read(d, m.page(4))).toEqual([4, 4, 4, 4]);
  });
});

describe('map and unmap (drivers/iommu/iommu.c)', () => {
  const setup = () => {
    const m = machine();
    const d = m.device('d');
    unwrap(m.iommu.probeDevice(d, { instance: 'smmu0', streamId: 1 }));
    const dom = unwrap(m.iommu.domainAlloc('unmanaged', { instance: 'smmu0' }));
    unwrap(m.iommu.attachDevice(dom, d));
    return { ...m, d, dom };
  };

  it('splits a range into the largest page sizes the bitmap and alignment allow (iommu_pgsize)', () => {
    const m = setup();
    const pa = unwrap(m.platform.pages.allocPages(10)) * 4096; // 4 MiB, naturally aligned
    const maps: { pgsize: number; pgcount: number }[] = [];
    m.dom.pgtable!.bus.on('map', (e) => maps.push({ pgsize: e.pgsize, pgcount: e.pgcount }));
    unwrap(iommuMap(m.dom, 0x20_0000 - 0x1000, pa + 0x20_0000 - 0x1000, 0x20_0000 + 0x2000, RW));
    expect(maps).toEqual([
      { pgsize: 0x1000, pgcount: 1 },
      { pgsize: 0x20_0000, pgcount: 1 },
      { pgsize: 0x1000, pgcount: 1 },
    ]);
    expect(iommuIovaToPhys(m.dom, 0x20_0000 + 0x1234)).toBe(pa + 0x20_0000 + 0x1234);
  });

  it('refuses misaligned requests with EINVAL and overlapping ones with EEXIST, changing nothing', () => {
    const m = setup();
    const pa = m.page(1);
    expect(code(iommuMap(m.dom, 0x1800, pa, 4096, RW))).toBe('EINVAL');
    unwrap(iommuMap(m.dom, 0x3000, pa, 4096, RW));
    const pa2 = unwrap(m.platform.pages.allocPages(2)) * 4096;
    expect(code(iommuMap(m.dom, 0x1000, pa2, 0x4000, RW))).toBe('EEXIST');
    expect(iommuIovaToPhys(m.dom, 0x1000)).toBe(-1);
    expect(iommuIovaToPhys(m.dom, 0x2000)).toBe(-1);
    expect(iommuIovaToPhys(m.dom, 0x3000)).toBe(pa);
  });

  it('unmap returns the size actually unmapped and stops at the first hole', () => {
    const m = setup();
    unwrap(iommuMap(m.dom, 0x1000, m.page(1), 4096, RW));
    unwrap(iommuMap(m.dom, 0x2000, m.page(2), 4096, RW));
    unwrap(iommuMap(m.dom, 0x4000, m.page(3), 4096, RW));
    expect(iommuUnmap(m.dom, 0x1000, 0x4000)).toBe(0x2000);
    expect(iommuIovaToPhys(m.dom, 0x4000)).toBeGreaterThanOrEqual(0);
    expect(iommuUnmap(m.dom, 0x1800, 0x1000)).toBe(0);
  });

  it('unmapping part of a block mapping unmaps nothing and returns 0, as current io-pgtable-arm', () => {
    const m = setup();
    const pa = unwrap(m.platform.pages.allocPages(9)) * 4096;
    unwrap(iommuMap(m.dom, 0x20_0000, pa, 0x20_0000, RW));
    expect(iommuUnmap(m.dom, 0x20_0000, 0x1000)).toBe(0);
    expect(iommuIovaToPhys(m.dom, 0x20_0000)).toBe(pa);
    expect(iommuUnmap(m.dom, 0x20_0000, 0x20_0000)).toBe(0x20_0000);
  });

  it('enforces the aperture: an IOVA beyond the input range is ERANGE', () => {
    const m = setup();
    expect(code(iommuMap(m.dom, 2 ** 48, m.page(1), 4096, RW))).toBe('ERANGE');
  });

  it('the tables live in physical memory: the root PTE the CPU wrote is readable at TTBR', () => {
    const m = setup();
    unwrap(iommuMap(m.dom, 0, m.page(1), 4096, RW));
    const pte = new Uint8Array(8);
    unwrap(m.platform.memory.read(m.dom.pgtable!.ttbr, pte, 0, 8));
    expect(pte[0]! & 3).toBe(3); // a table descriptor
  });

  it('a device that DMAs after an unmap but before the IOTLB flush still reaches the old page', () => {
    const m = setup();
    unwrap(iommuMap(m.dom, 0x5000, m.page(0x42), 4096, RW));
    expect(m.read(m.d, 0x5000, 1)).toEqual([0x42]);
    const gather = iommuIotlbGatherInit(m.dom);
    expect(iommuUnmapFast(m.dom, 0x5000, 4096, gather)).toBe(4096);
    expect(m.read(m.d, 0x5000, 1)).toEqual([0x42]); // stale IOTLB entry: the bug the flush prevents
    iommuIotlbSync(m.dom, gather);
    expect(m.read(m.d, 0x5000, 1)).toBe('EFAULT');
  });

  it('flushing the whole IOTLB of a domain ends every stale translation (iommu_flush_iotlb_all)', () => {
    const m = setup();
    unwrap(iommuMap(m.dom, 0x6000, m.page(0x24), 4096, RW));
    expect(m.read(m.d, 0x6000, 1)).toEqual([0x24]);
    iommuUnmapFast(m.dom, 0x6000, 4096, iommuIotlbGatherInit(m.dom)); // gather dropped, never synced
    expect(m.read(m.d, 0x6000, 1)).toEqual([0x24]);
    iommuFlushIotlbAll(m.dom);
    expect(m.read(m.d, 0x6000, 1)).toBe('EFAULT');
  });

  it('an unhandled fault blocks the access — no byte moves — and is recorded', () => {
    const m = setup();
    const pa = m.page(0x11);
    unwrap(iommuMap(m.dom, 0x1000, pa, 4096, IOMMU_READ));
    const r = m.d.dmaWrite(0x1000, new Uint8Array(4).fill(0xff), 0, 4);
    expect(code(r)).toBe('EFAULT');
    const back = new Uint8Array(1);
    unwrap(m.platform.memory.read(pa, back, 0, 1));
    expect(back[0]).toBe(0x11);
    expect(m.iommu.faults.at(-1)).toMatchObject({
      device: 'd',
      iova: 0x1000,
      write: true,
      reason: 'permission',
      handled: false,
    });
  });

  it("a domain's fault handler may resolve the fault and let the access retry (iommu_set_fault_handler)", () => {
    const m = setup();
    const pa = m.page(0x77);
    m.iommu.setFaultHandler(m.dom, (f) => {
      unwrap(iommuMap(m.dom, f.iova - (f.iova % 4096), pa, 4096, RW));
      return 'retry';
    });
    expect(m.read(m.d, 0x9000 + 12, 2)).toEqual([0x77, 0x77]);
    expect(m.iommu.faults.at(-1)).toMatchObject({ reason: 'unmapped', handled: true });
  });

  it('a mapping over a reserved region is refused with EINVAL (vfio_iommu_type1 / iommufd rule)', () => {
    const m = machine();
    const d = m.device('d');
    unwrap(
      m.iommu.probeDevice(d, {
        instance: 'smmu0',
        streamId: 1,
        resvRegions: [{ start: 0x800_0000, length: 0x10_0000, type: 'msi' }],
      }),
    );
    const dom = unwrap(m.iommu.domainAlloc('unmanaged', { instance: 'smmu0' }));
    unwrap(m.iommu.attachDevice(dom, d));
    expect(code(iommuMap(dom, 0x80f_f000, m.page(1), 0x2000, RW))).toBe('EINVAL');
  });

  it('DMA domains keep reserved regions out of their IOVA allocator and identity-map direct regions (dma-iommu.c)', () => {
    const m = machine();
    const d = m.device('d');
    const g = unwrap(
      m.iommu.probeDevice(d, {
        instance: 'smmu0',
        streamId: 1,
        resvRegions: [
          { start: 0x1000_0000, length: 0x2000, type: 'direct', prot: RW },
          { start: 0x800_0000, length: 0x10_0000, type: 'msi' },
        ],
      }),
    );
    const dom = g.defaultDomain;
    expect(iommuIovaToPhys(dom, 0x1000_1000)).toBe(0x1000_1000);
    expect(dom.iovad!.findIova(0x800_0000 / 4096)).toBeDefined();
    expect(dom.iovad!.findIova(0x1000_0000 / 4096)).toBeDefined();
  });
});

describe('SVA: bus address == user address (seed 002, drivers/iommu/iommu-sva.c)', () => {
  const setup = () => {
    const m = machine();
    const gpu = m.device('gpu');
    unwrap(m.iommu.probeDevice(gpu, { instance: 'smmu0', streamId: 4 }));
    const proc = m.platform.processes.spawn('app');
    return { ...m, gpu, proc };
  };

  it('a bound device reads the process memory at its user virtual addresses, with the mm PASID', () => {
    const m = setup();
    const va = unwrap(m.proc.mm.mmap({ length: 8192, prot: { read: true, write: true } }));
    unwrap(m.proc.mm.write(va + 100, Uint8Array.of(1, 2, 3), 0, 3));
    unwrap(m.platform.cache.clean(m.proc.mm.lookup(va) * 4096, 4096));
    const h = unwrap(m.iommu.sva.bind(m.gpu, m.proc.mm));
    expect(h.pasid).toBeGreaterThan(0);
    expect(m.read(m.gpu, va + 100, 3, h.pasid)).toEqual([1, 2, 3]);
    expect(m.read(m.gpu, va + 100, 3)).toBe('EFAULT');
  });

  it('untouched pages are faulted in through the mm on the device’s first access', () => {
    const m = setup();
    const va = unwrap(m.proc.mm.mmap({ length: 4096, prot: { read: true, write: true } }));
    const h = unwrap(m.iommu.sva.bind(m.gpu, m.proc.mm));
    expect(m.proc.mm.lookup(va)).toBe(-1);
    unwrap(m.gpu.dmaWrite(va, Uint8Array.of(9), 0, 1, h.pasid));
    expect(m.proc.mm.lookup(va)).toBeGreaterThanOrEqual(0);
    const b = new Uint8Array(1);
    unwrap(m.platform.cache.invalidate(m.proc.mm.lookup(va) * 4096, 4096));
    unwrap(m.proc.mm.read(va, b, 0, 1));
    expect(b[0]).toBe(9);
  });

  it('munmap in the process revokes the device’s access through the mmu notifier', () => {
    const m = setup();
    const va = unwrap(m.proc.mm.mmap({ length: 4096, prot: { read: true, write: true } }));
    const h = unwrap(m.iommu.sva.bind(m.gpu, m.proc.mm));
    expect(m.read(m.gpu, va, 1, h.pasid)).toEqual([0]);
    unwrap(m.proc.mm.munmap(va, 4096));
    expect(m.read(m.gpu, va, 1, h.pasid)).toBe('EFAULT');
  });

  it('process exit blocks the device; unbind tears the binding down; one PASID per mm', () => {
    const m = setup();
    const other = m.device('dsp');
    unwrap(m.iommu.probeDevice(other, { instance: 'smmu1', streamId: 1 }));
    const va = unwrap(m.proc.mm.mmap({ length: 4096, prot: { read: true, write: true } }));
    const h = unwrap(m.iommu.sva.bind(m.gpu, m.proc.mm));
    const h2 = unwrap(m.iommu.sva.bind(other, m.proc.mm));
    expect(h2.pasid).toBe(h.pasid);
    m.proc.exit();
    expect(m.read(m.gpu, va, 1, h.pasid)).toBe('EFAULT');
    unwrap(m.iommu.sva.unbind(h));
    expect(code(m.iommu.sva.unbind(h))).toBe('EINVAL');
    unwrap(m.iommu.sva.unbind(h2));
  });

  it('an instance without SVA refuses to bind (EOPNOTSUPP)', () => {
    const m = machine();
    const gpu = m.device('gpu');
    unwrap(m.iommu.probeDevice(gpu, { instance: 'gfx-mmu', streamId: 0 }));
    expect(code(m.iommu.sva.bind(gpu, m.platform.processes.spawn('p').mm))).toBe('EOPNOTSUPP');
  });
});
