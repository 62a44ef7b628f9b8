import { createSystem } from '@sharedbuf/dma-buf';
import { unwrap } from '@sharedbuf/platform';
const MiB = 2 ** 20;
const KINDS = [
  { dmaMask: 32, dmaParms: { maxSegmentSize: 64 * 1024, maxSegmentCount: 128 } },
  { dmaMask: 32, dmaParms: { segmentBoundaryMask: 0xffff } },
  { dmaMask: 32, dmaParms: { maxSegmentSize: MiB } },
];
for (const n of [Number(process.env.N ?? 8000)]) {
  const ts: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const sys = createSystem({ dmaDebug: false });
    const devs = Array.from({ length: n }, (_, i) => unwrap(sys.platform.devices.add({ name: `dev${i}`, ...KINDS[i % 3]! })));
    const buf = unwrap(sys.dmabuf.export({ name: 'f', size: 4 * MiB }));
    const t0 = performance.now();
    for (const d of devs) unwrap(buf.attach(d));
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  console.log(n, 'attach median ms', ts[2]!.toFixed(1), 'µs/attacher', ((ts[2]! / n) * 1000).toFixed(1));
}
