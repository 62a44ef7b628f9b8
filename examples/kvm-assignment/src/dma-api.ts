import { DmaAttr, DmaDirection } from '@sharedbuf/dma-mapping';
import type { Refusal } from '@sharedbuf/example-kit';
import { type Device, unwrap } from '@sharedbuf/platform';
import * as E from 'fp-ts/lib/Either.js';
import type { KvmHost } from './guest.js';
import { GuestDma, type ProbeResult, type ProbeSpec } from './probes.js';

/** One assigned device's guest RAM, placed through the DMA API. */
export interface FixedMappingDevice {
  readonly device: string;
  /** `supportsFixedMapping(dev)`: the capability check KVM must make first. */
  readonly supportsFixedMapping: boolean;
  /** The device's own DMA domain, which receives its copy of the guest's mappings. */
  readonly domain: string;
  /** Chunks mapped at their GPA. */
  readonly mapped: number;
  /** Chunks refused, with the reason. */
  readonly refused: readonly RefusedChunk[];
}

/** A chunk of guest RAM the fixed map refused. */
export interface RefusedChunk {
  readonly gpa: number;
  readonly refusal: Refusal;
}

/** Guest RAM placed per device with `DMA_ATTR_FIXED_MAPPING`. */
export interface DmaApiRun {
  /** Whether the maps carried `DMA_ATTR_SKIP_CPU_SYNC`. */
  readonly skipCpuSync: boolean;
  readonly devices: readonly FixedMappingDevice[];
  /** Map calls in all: one per chunk per device, since the DMA API has no shared domain. */
  readonly mapCalls: number;
  readonly probes: readonly ProbeResult[];
}

/**
 * The same assignment through the DMA API, as Arnd Bergmann proposed in seed 000 ("add a new
 * attribute, e.g. DMA_ATTR_FIXED_MAPPING … KVM would obviously need a way to check if this is
 * supported"): for each device, after the capability check, every chunk of guest RAM is mapped with
 * `dma_map_page_attrs(dev, hpa, …, FIXED_MAPPING → gpa)`. The DMA API has no concept of domains
 * (seed 001), so each device's own DMA domain gets its own copy. The guest CPU stores its data
 * before the maps and checks the devices' writes after the unmaps, as the DMA API's ownership rule
 * asks. With `skipCpuSync` the maps carry `DMA_ATTR_SKIP_CPU_SYNC`, as KVM would want: keeping guest
 * RAM coherent is the guest's business, and the same RAM mapped for a second device is otherwise an
 * overlapping streaming mapping, which DMA debug reports (`add_dma_entry`, kernel/dma/debug.c).
 * @throws when a step the story depends on fails (a regression).
 */
export const assignWithDmaApi = (
  host: KvmHost,
  specs: readonly ProbeSpec[],
  skipCpuSync: boolean,
): DmaApiRun => {
  const attrs = skipCpuSync ? DmaAttr.SKIP_CPU_SYNC : 0;
  const { dma, iommu } = host.system;
  const run = new GuestDma(host.system, host.guest, specs);
  run.prepare();
  let mapCalls = 0;
  const live: { dev: Device; gpa: number; size: number }[] = [];
  const devices = host.assigned.map((dev): FixedMappingDevice => {
    const supports = dma.supportsFixedMapping(dev);
    const refused: RefusedChunk[] = [];
    let mapped = 0;
    for (const c of supports ? host.guest.chunks : []) {
      mapCalls += 1;
      const r = dma.dmaMapPageFixed(dev, c.hpa, c.gpa, c.size, DmaDirection.BIDIRECTIONAL, attrs);
      if (E.isLeft(r)) {
        const { code, message, detail } = r.left;
        refused.push({ gpa: c.gpa, refusal: { code, message, detail } });
      } else {
        mapped += 1;
        live.push({ dev, gpa: c.gpa, size: c.size });
      }
    }
    const domain = iommu.domainOf(dev)?.describe() ?? 'none';
    return { device: dev.name, supportsFixedMapping: supports, domain, mapped, refused };
  });
  run.access();
  for (const m of live)
    unwrap(dma.dmaUnmapPageAttrs(m.dev, m.gpa, m.size, DmaDirection.BIDIRECTIONAL, attrs));
  return { skipCpuSync, devices, mapCalls, probes: run.verify() };
};
