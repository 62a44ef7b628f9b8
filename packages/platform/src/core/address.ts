/**
 * Address arithmetic on safe-integer `number`s. Modelled address spaces are at most 52 bits wide, so
 * every address is exact in a double; JavaScript's 32-bit bitwise operators would truncate them, so
 * addresses go through these helpers instead.
 */

/** Size of a page frame (4 KiB), as `PAGE_SIZE`. */
export const PAGE_SIZE = 4096;
/** log2 of {@link PAGE_SIZE}, as `PAGE_SHIFT`. */
export const PAGE_SHIFT = 12;
/** Width of the widest modelled address space. */
export const MAX_ADDRESS_BITS = 52;

const POW2: readonly number[] = Array.from({ length: 64 }, (_, i) => 2 ** i);

/** 2^n for n in 0..63, exact. */
export const pow2 = (n: number): number => POW2[n] ?? 2 ** n;

/** True when `x` is a power of two (x ≥ 1). */
export const isPow2 = (x: number): boolean => x >= 1 && Number.isInteger(x) && Math.log2(x) % 1 === 0;

/** floor(log2(x)) for x ≥ 1 (the kernel's `__fls`/`ilog2`). */
export const ilog2 = (x: number): number => {
  let n = Math.floor(Math.log2(x));
  // Math.log2 can round up just below a power of two; correct by one step.
  if (POW2[n] !== undefined && (POW2[n] as number) > x) n -= 1;
  return n;
};

/** Rounds `x` down to a multiple of `align` (a power of two). */
export const alignDown = (x: number, align: number): number => x - (x % align);

/** Rounds `x` up to a multiple of `align` (a power of two). */
export const alignUp = (x: number, align: number): number => {
  const r = x % align;
  return r === 0 ? x : x + (align - r);
};

/** The page frame number of a physical address (`PHYS_PFN`). */
export const pfnOf = (addr: number): number => Math.floor(addr / PAGE_SIZE);

/** Formats an address as `0x…` hex, for messages and reports. */
export const hex = (x: number): string => `0x${x.toString(16)}`;
