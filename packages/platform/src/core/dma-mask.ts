import { MAX_ADDRESS_BITS, pow2 } from './address.js';

/**
 * A DMA address mask as `DMA_BIT_MASK(bits)` (`include/linux/dma-mapping.h`). It is stored by width,
 * so the full 64-bit "no limit" mask is exact instead of being truncated to a double.
 */
export interface DmaMask {
  readonly bits: number;
}

/** `DMA_BIT_MASK(bits)`, bits in 1..64. Throws on other widths (a model set-up bug). */
export const dmaBitMask = (bits: number): DmaMask => {
  if (!Number.isInteger(bits) || bits < 1 || bits > 64) {
    throw new RangeError(`DMA_BIT_MASK: width ${bits} is not in 1..64`);
  }
  return { bits };
};

/** The full 64-bit mask. */
export const DMA_MASK_64: DmaMask = { bits: 64 };

/**
 * The highest address the mask admits, as a number. Widths beyond the modelled address space yield
 * `Number.MAX_SAFE_INTEGER`, which is above every modelled address.
 */
export const maskLimit = (mask: DmaMask): number =>
  mask.bits > MAX_ADDRESS_BITS ? Number.MAX_SAFE_INTEGER : pow2(mask.bits) - 1;

/** True when every byte of `[addr, addr + size)` lies at or below the mask (`dma_capable`'s core test). */
export const maskCovers = (mask: DmaMask, addr: number, size: number): boolean =>
  addr + Math.max(size, 1) - 1 <= maskLimit(mask);

/** The mask in kernel notation, e.g. `0xffffffffffffffff` for 64 bits (exact, via BigInt). */
export const formatMask = (mask: DmaMask): string => `0x${((1n << BigInt(mask.bits)) - 1n).toString(16)}`;
