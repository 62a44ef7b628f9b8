import { hex, ilog2, pow2 } from '@sharedbuf/platform';

/**
 * "No limit" for an address, a size or a boundary mask: the largest safe integer, 2^53 − 1. It lies
 * above every modelled address (52 bits), and as a mask it has the form 2^k − 1 like `ULONG_MAX`.
 */
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** 1 KiB. */
export const KiB = 1024;
/** 1 MiB. */
export const MiB = 1024 * KiB;
/** 1 GiB. */
export const GiB = 1024 * MiB;

/**
 * The largest single mapping swiotlb bounces, `IO_TLB_SEGSIZE × IO_TLB_SIZE` = 128 slots of 2 KiB
 * (`swiotlb_max_mapping_size`, kernel/dma/swiotlb.c): each bounced segment is at most this long.
 */
export const SWIOTLB_MAX_SEGMENT = 128 * 2048;

/** The smallest power of two ≥ `x` (`roundup_pow_of_two`), 1 for x ≤ 1. */
export const pow2Ceil = (x: number): number => (x <= 1 ? 1 : pow2(ilog2(x - 1) + 1));

/** A byte count in the largest binary unit that divides it exactly, e.g. `64 KiB`, `3548 MiB`. */
export const formatBytes = (n: number): string => {
  if (n >= NO_LIMIT) return 'unlimited';
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return n === 1 ? '1 byte' : `${n} bytes`;
};

/** An address limit for messages: hex, or `no limit`. */
export const formatLimit = (addr: number): string => (addr >= NO_LIMIT ? 'no limit' : hex(addr));

/** A segment count for messages: the number, or `unlimited`. */
export const formatCount = (n: number): string => (n === Number.POSITIVE_INFINITY ? 'unlimited' : String(n));

const SHOWN_NAMES = 5;

/** Names joined for a sentence: `a`, `a and b`, `a, b and c`; long lists end `… and 995 more`. */
export const formatNames = (names: readonly string[]): string => {
  if (names.length <= 1) return names[0] ?? 'nobody';
  if (names.length > SHOWN_NAMES + 1) {
    return `${names.slice(0, SHOWN_NAMES).join(', ')} and ${names.length - SHOWN_NAMES} more`;
  }
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] as string}`;
};

/** A verb agreeing with a list of names: `verb(['a'], 'needs', 'need')` is `needs`, with two names `need`. */
export const verb = (names: readonly unknown[], singular: string, plural: string): string =>
  names.length === 1 ? singular : plural;
