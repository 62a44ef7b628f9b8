import { type Device, type Platform, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * What a device sees at a bus address: the text it reads there (trailing zero bytes dropped), or
 * `fault: <errno>` when the access is refused (an IOMMU fault, nothing moved).
 */
export const deviceReadText = (dev: Device, busAddr: number, length: number): string => {
  const buf = new Uint8Array(length);
  const r = dev.dmaRead(busAddr, buf, 0, length);
  if (E.isLeft(r)) return `fault: ${r.left.code}`;
  const end = buf.indexOf(0);
  return decoder.decode(end < 0 ? buf : buf.subarray(0, end));
};

/**
 * The CPU writes `text` at `phys` and cleans it to RAM. A driver that programs page tables through
 * the IOMMU API owns the cache maintenance itself (the DMA API would do it), and a non-coherent
 * device reads RAM, not the CPU cache.
 */
export const cpuWriteClean = (platform: Platform, phys: number, text: string): void => {
  const bytes = encoder.encode(text);
  unwrap(platform.cpu.write(phys, bytes, 0, bytes.length));
  unwrap(platform.cache.clean(phys, bytes.length));
};
