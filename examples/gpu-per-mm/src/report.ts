import { hex } from '@sharedbuf/platform';
import type { GpuAddressSpaceView } from './address-space.js';
import { size, table, time, word } from './format.js';
import type { GpuPerMmResult, JobOutcome } from './result.js';

const range = (start: number, end: number): string => `${hex(start)}-${hex(end)}`;

const vmaNameAt = (spaces: readonly GpuAddressSpaceView[], pid: number, va: number): string =>
  spaces.find((s) => s.pid === pid)?.vmas.find((v) => va >= v.start && va < v.end)?.name ?? '(unmapped)';

const jobWhat = (j: JobOutcome): string =>
  j.job.kind === 'transform'
    ? `transform ${j.job.count} words ${hex(j.job.src)} → ${hex(j.job.dst)}`
    : `checksum ${size(j.job.length)} at ${hex(j.job.src)}`;

const seedSection = (r: GpuPerMmResult): string[] => {
  const equal = r.busChecks.filter((c) => c.gpuPhys === c.cpuPhys && c.gpuPhys >= 0).length;
  const submitFlush = r.jobs.reduce((n, j) => n + j.submitCache.ops, 0);
  const submitBytes = r.jobs.reduce((n, j) => n + j.submitCache.bytes, 0);
  const spaces = r.contexts.map((c) => `${c.process} → PASID ${c.pasid} (SVA domain ${c.domain})`).join(', ');
  const noKmap = r.bos.filter((b) => !b.kernelMapping).length;
  return [
    "Seed 002's list, and what this run shows",
    ...table(
      ['need', 'shown by'],
      [
        ["use one address space per 'struct mm'", spaces],
        [
          'map user memory with bus_address == user_address',
          `${equal}/${r.busChecks.length} addresses: SMMU walk under the PASID = CPU page table`,
        ],
        [
          'map memory into the GPU without a permanent kernel mapping',
          `${noKmap}/${r.bos.length} buffer objects have no kernel mapping (DMA_ATTR_NO_KERNEL_MAPPING)`,
        ],
        [
          'map memory first, and do the initial cache flushes later',
          `ring mapped with DMA_ATTR_SKIP_CPU_SYNC: ${r.ring.mapWork.ops} cache ops; at submit: ${submitFlush} ops over ${size(submitBytes)}`,
        ],
      ],
    ),
  ];
};

const spaceSection = (r: GpuPerMmResult): string[] => {
  const out = [
    'GPU address spaces once every buffer is in place (the GPU uses each range at the same address)',
  ];
  for (const s of r.spaces) {
    out.push(`  ${s.process} (pid ${s.pid}), PASID ${s.pasid}`);
    out.push(
      ...table(
        ['range', 'size', 'name', 'backing', 'memory', 'prot', 'resident', 'GPU-faulted'],
        s.vmas.map((v) => [
          range(v.start, v.end),
          size(v.end - v.start),
          v.name,
          v.backing,
          v.memoryType,
          v.prot,
          `${v.resident}/${v.pages}`,
          String(v.gpuFaulted),
        ]),
        [1, 6, 7],
        '    ',
      ),
    );
  }
  out.push('  GPU kernel address space (no PASID: the DMA API, default domain)');
  out.push(
    ...table(
      ['address', 'size', 'what'],
      [
        [
          hex(r.ring.dmaAddr),
          size(r.ring.slots * 64),
          `command ring, ${r.ring.slots} descriptors (DMA_TO_DEVICE)`,
        ],
        ...r.bos.map((b) => [
          hex(b.kernelIova),
          size(b.size),
          `gpu-bo:${b.name} of ${b.process}, as dma_alloc_attrs maps it (jobs use ${hex(b.va)})`,
        ]),
      ],
      [1],
      '    ',
    ),
  );
  return out;
};

const busSection = (r: GpuPerMmResult): string[] => {
  const rows = r.busChecks.map((c) => [
    `${c.process} (${c.pasid})`,
    c.what,
    hex(c.va),
    c.gpuPhys >= 0 ? hex(c.gpuPhys) : 'fault',
    c.cpuPhys >= 0 ? hex(c.cpuPhys) : 'absent',
    c.gpuPhys === c.cpuPhys ? 'yes' : 'NO',
  ]);
  const out = [
    'Bus address == user address',
    ...table(['process (PASID)', 'what', 'address', 'GPU → phys', 'CPU → phys', 'equal'], rows),
  ];
  const a = r.busChecks.find((c) => c.what === 'input' && c.pid === r.contexts[0]?.pid);
  const b = r.busChecks.find((c) => c.what === 'input' && c.pid === r.contexts[1]?.pid);
  if (a && b && a.va === b.va) {
    out.push(
      `  The same address ${hex(a.va)} is ${a.process}'s input at ${hex(a.gpuPhys)} and ${b.process}'s at ${hex(b.gpuPhys)}:`,
      '  each PASID selects its own page table.',
    );
  }
  return out;
};

const jobSection = (r: GpuPerMmResult): string[] => {
  const rows = r.jobs.map((j) => [
    String(j.id),
    `${j.process} (${j.pid})`,
    j.label,
    j.status,
    j.result === undefined ? '-' : word(j.result),
    j.expected === undefined ? '-' : word(j.expected),
    j.readBack === undefined ? '-' : word(j.readBack),
    j.outputMatches === undefined ? '-' : j.outputMatches ? 'all match' : 'MISMATCH',
    String(j.pageRequests),
    String(j.refusedFaults),
  ]);
  return [
    'Jobs (results read back by the process through its own mappings)',
    ...table(
      [
        '#',
        'process',
        'job',
        'status',
        'GPU result',
        'CPU expects',
        'read back',
        'output',
        'paged in',
        'refused',
      ],
      rows,
      [0, 8, 9],
    ),
    ...r.jobs.map(
      (j) => `  #${j.id}: ${jobWhat(j)}${j.error ? ` — ${j.error.code}: ${j.error.message}` : ''}`,
    ),
  ];
};

const servedSection = (r: GpuPerMmResult): string[] => {
  const groups = new Map<string, { job: number; who: string; vma: string; access: string; pages: number }>();
  for (const f of r.faults.served) {
    const vma = vmaNameAt(r.spaces, f.pid, f.va);
    const access = f.write ? 'write' : 'read';
    const key = `${f.jobId}/${vma}/${access}`;
    const g = groups.get(key) ?? {
      job: f.jobId,
      who: `${f.process} (PASID ${f.pasid})`,
      vma,
      access,
      pages: 0,
    };
    g.pages += 1;
    groups.set(key, g);
  }
  return [
    `I/O page faults served: ${r.faults.served.length} pages the GPU touched first, faulted in through the mm`,
    ...table(
      ['job', 'process', 'range', 'first access', 'pages'],
      [...groups.values()].map((g) => [String(g.job), g.who, g.vma, g.access, String(g.pages)]),
      [0, 4],
    ),
  ];
};

const refusedSection = (r: GpuPerMmResult): string[] => {
  const owner = r.contexts.find((c) => c.pid === r.isolation.owner)?.process ?? '?';
  const why = (jobId: number): string =>
    jobId === r.isolation.jobId
      ? `mapped only in ${owner}: ${vmaNameAt(r.spaces, r.isolation.owner, r.isolation.va)}`
      : jobId === r.revocation.jobId
        ? `unmapped by the process before the job (munmap ${range(r.revocation.start, r.revocation.end)})`
        : '';
  const agree = r.faults.refused.every((f) =>
    r.faults.iommu.some((i) => i.pasid === f.pasid && i.iova === f.va && i.reason === f.reason),
  );
  return [
    'GPU faults refused by the SMMU, attributed by PASID',
    ...table(
      ['job', 'process (pid)', 'PASID', 'address', 'access', 'reason', 'why'],
      r.faults.refused.map((f) => [
        String(f.jobId),
        `${f.process} (${f.pid})`,
        String(f.pasid),
        hex(f.va),
        f.write ? 'write' : 'read',
        f.reason,
        why(f.jobId),
      ]),
      [0, 2],
    ),
    `  The IOMMU core's own fault records ${agree ? 'agree' : 'DISAGREE'} (${r.faults.iommu.length} records).`,
  ];
};

const importSection = (r: GpuPerMmResult): string[] => [
  'Imported dma-bufs',
  ...table(
    ['buffer', 'exporter', 'heap', 'size', 'into', 'fd', 'GPU address', 'prot'],
    r.imports.map((i) => [
      i.buffer,
      i.exporter,
      i.heap,
      size(i.size),
      `${i.process} (${i.pid})`,
      String(i.fd),
      hex(i.va),
      i.writable ? 'rw' : 'r-',
    ]),
    [3, 5],
  ),
];

const cacheSection = (r: GpuPerMmResult): string[] => [
  'Cache maintenance (non-coherent GPU): flushes at submit, invalidates at completion',
  ...table(
    [
      'job',
      'submit: ops',
      'bytes',
      'dirty lines written back',
      'completion: ops',
      'bytes',
      'dirty data lost',
    ],
    r.jobs.map((j) => [
      String(j.id),
      String(j.submitCache.ops),
      size(j.submitCache.bytes),
      String(j.submitCache.linesWrittenBack),
      String(j.completionCache.ops),
      size(j.completionCache.bytes),
      size(j.submitCache.dirtyBytesLost + j.completionCache.dirtyBytesLost),
    ]),
    [0, 1, 2, 3, 4, 5, 6],
  ),
];

const timeSection = (r: GpuPerMmResult): string[] => {
  const c = r.costs;
  return [
    `Simulated time (assumed costs: ${c.dmaNsPerKiB} ns/KiB transfers, ${time(c.pageRequestNs)} per page fault served, ${c.cacheMaintenanceNsPerKiB} ns/KiB cache maintenance, ${time(c.faultAbortNs)} per refused fault)`,
    ...table(
      ['job', 'submitted', 'started', 'completed', 'sync', 'transfers', 'page faults', 'abort', 'total'],
      r.jobs.map((j) => [
        String(j.id),
        time(j.submittedAt),
        time(j.startedAt),
        time(j.completedAt),
        time(j.time.submitSync + j.time.completionSync),
        time(j.time.dma),
        time(j.time.pageRequests),
        time(j.time.abort),
        time(j.completedAt - j.submittedAt),
      ]),
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
    ),
    `  End of run: ${time(r.endNs)}.`,
  ];
};

const checkSection = (r: GpuPerMmResult): string[] => [
  'Checks',
  `  DMA debug findings: ${r.dmaDebugFindings.length}`,
  ...r.dmaDebugFindings.slice(0, 5).map((f) => `    ${f.kind} (${f.device}): ${f.message}`),
  ...(r.dmaDebugFindings.length > 5 ? [`    … and ${r.dmaDebugFindings.length - 5} more`] : []),
  `  DMA-API mappings left after the driver's remove: ${r.leakedMappings}`,
];

/** The report of {@link runGpuPerMm}, for a driver engineer who has not read the code. */
export const formatGpuPerMmReport = (r: GpuPerMmResult): string => {
  const head = [
    'GPU with one address space per process (seed 002), on SVA',
    `  machine: ${r.arch}; IOMMU: ${r.iommu}`,
    `  ${r.gpu.name}: ${r.gpu.coherent ? 'coherent' : 'non-coherent'}, ${r.gpu.dmaMaskBits}-bit DMA mask, behind ${r.gpu.iommu}`,
    `  ${r.camera.name}: ${r.camera.coherent ? 'coherent' : 'non-coherent'}, ${r.camera.dmaMaskBits}-bit DMA mask, no IOMMU (exports the frame)`,
  ];
  const sections = [
    head,
    seedSection(r),
    spaceSection(r),
    busSection(r),
    jobSection(r),
    servedSection(r),
    refusedSection(r),
    importSection(r),
    cacheSection(r),
    timeSection(r),
    checkSection(r),
  ];
  return `${sections.map((s) => s.join('\n')).join('\n\n')}\n`;
};
