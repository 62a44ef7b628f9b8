import { type DmaMask, dmaBitMask } from '../core/dma-mask.js';
import { fail, type KResult, ok } from '../core/kernel-error.js';
import { DEFAULT_DMA_PARMS, type DmaParms, dmaParmsProblem } from './dma-parms.js';

/**
 * How a device is described to the model: the parts of `struct device` that DMA depends on, as a
 * device tree node or firmware would set them up. Omitted fields take Linux's platform-device
 * defaults.
 */
export interface DeviceConfig {
  /** Unique device name (`dev_name`). */
  readonly name: string;
  /** Bus the device sits on (default `'platform'`). */
  readonly bus?: string;
  /** Streaming DMA mask width in bits, 1..64 (default 32, as `setup_pdev_dma_masks`, `drivers/base/platform.c`). */
  readonly dmaMask?: number;
  /** Coherent DMA mask width in bits, 1..64 (default 32, same source). */
  readonly coherentDmaMask?: number;
  /** Highest bus address the interconnect carries, inclusive (`bus_dma_limit`); 0 = none (default). */
  readonly busDmaLimit?: number;
  /** `dma-ranges` offset: bus address = physical address − offset (default 0; may be negative). */
  readonly dmaRangeOffset?: number;
  /** Segment limits; omitted fields take {@link DEFAULT_DMA_PARMS}. */
  readonly dmaParms?: Partial<DmaParms>;
  /** True when the device snoops the CPU caches (`dma-coherent`; default false). */
  readonly coherent?: boolean;
  /** False for a device that never masters the bus (no `dma_mask`; default true). */
  readonly doesDma?: boolean;
}

/** A {@link DeviceConfig} with every default applied and every field checked. */
export interface ResolvedDeviceConfig {
  readonly name: string;
  readonly bus: string;
  readonly dmaMask: DmaMask;
  readonly coherentDmaMask: DmaMask;
  readonly busDmaLimit: number;
  readonly dmaRangeOffset: number;
  readonly dmaParms: DmaParms;
  readonly coherent: boolean;
  readonly doesDma: boolean;
}

/** True for a mask width `DMA_BIT_MASK` accepts. */
export const isMaskWidth = (bits: number): boolean => Number.isInteger(bits) && bits >= 1 && bits <= 64;

/** Why a `busDmaLimit` value is invalid, or `undefined`. */
export const busDmaLimitProblem = (limit: number): string | undefined =>
  Number.isSafeInteger(limit) && limit >= 0
    ? undefined
    : `busDmaLimit ${limit} is not a non-negative integer`;

/** Why a `dmaRangeOffset` value is invalid, or `undefined`. */
export const dmaRangeOffsetProblem = (offset: number): string | undefined =>
  Number.isSafeInteger(offset) ? undefined : `dmaRangeOffset ${offset} is not an integer`;

const configProblem = (c: DeviceConfig, parms: DmaParms): string | undefined => {
  if (typeof c.name !== 'string' || c.name.length === 0) return 'name must be a non-empty string';
  if (c.bus !== undefined && c.bus.length === 0) return 'bus must be a non-empty string';
  if (c.dmaMask !== undefined && !isMaskWidth(c.dmaMask))
    return `dmaMask ${c.dmaMask} is not a width in 1..64 bits`;
  if (c.coherentDmaMask !== undefined && !isMaskWidth(c.coherentDmaMask)) {
    return `coherentDmaMask ${c.coherentDmaMask} is not a width in 1..64 bits`;
  }
  return (
    busDmaLimitProblem(c.busDmaLimit ?? 0) ??
    dmaRangeOffsetProblem(c.dmaRangeOffset ?? 0) ??
    dmaParmsProblem(parms)
  );
};

/**
 * Applies defaults to a device description and checks it. Errors: EINVAL naming the bad field
 * (a mask width outside 1..64, a segment boundary not of the form 2^k − 1, a negative limit, …).
 */
export const resolveDeviceConfig = (config: DeviceConfig): KResult<ResolvedDeviceConfig> => {
  const dmaParms: DmaParms = { ...DEFAULT_DMA_PARMS, ...config.dmaParms };
  const problem = configProblem(config, dmaParms);
  if (problem !== undefined) {
    return fail('EINVAL', `device ${String(config.name)}: ${problem}`, { device: config.name, problem });
  }
  return ok({
    name: config.name,
    bus: config.bus ?? 'platform',
    dmaMask: dmaBitMask(config.dmaMask ?? 32),
    coherentDmaMask: dmaBitMask(config.coherentDmaMask ?? 32),
    busDmaLimit: config.busDmaLimit ?? 0,
    dmaRangeOffset: config.dmaRangeOffset ?? 0,
    dmaParms: Object.freeze(dmaParms),
    coherent: config.coherent ?? false,
    doesDma: config.doesDma ?? true,
  });
};
