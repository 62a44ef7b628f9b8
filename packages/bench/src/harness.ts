import { performance } from 'node:perf_hooks';

/** What every figure set receives: the mode and a printer. */
export interface BenchContext {
  /** Quick mode (CI): tiny durations and sizes, so the scripts never rot; figures are not meaningful. */
  readonly quick: boolean;
  /** Prints one line of the report. */
  log(line: string): void;
}

/** A group of figures measured together; returns figure name → number. */
export interface FigureSet {
  readonly name: string;
  run(ctx: BenchContext): Record<string, number>;
}

/** xorshift32 exactly as BENCH-SPEC.md defines it; returns the generator function. */
export const xorshift32 = (seed: number): (() => number) => {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
};

/** The spec's shuffle of 0..n-1: identity, then Fisher–Yates from the top with `rnd() % (i+1)`. */
export const shuffle = (n: number, rnd: () => number): Uint32Array => {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = n - 1; i >= 1; i--) {
    const j = rnd() % (i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
};

/** Median of a list of numbers. */
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Milliseconds from a monotonic clock (benchmarks only; the model never reads it). */
export const nowMs = (): number => performance.now();

/**
 * The spec's time-based figure: warm up ≥ 200 ms untimed, then 5 repetitions of ≥ 200 ms; each
 * repetition's rate is units / second; the figure is the median rate. `step` does some work and
 * returns how many units it did.
 */
export const timeRate = (ctx: BenchContext, step: () => number): number => {
  const span = ctx.quick ? 5 : 200;
  const reps = ctx.quick ? 1 : 5;
  const warmEnd = nowMs() + span;
  while (nowMs() < warmEnd) step();
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    let units = 0;
    const t0 = nowMs();
    let t = t0;
    while (t - t0 < span) {
      units += step();
      t = nowMs();
    }
    rates.push(units / ((t - t0) / 1000));
  }
  return median(rates);
};

/** Formats a rate with thousands separators. */
export const fmt = (x: number, digits = 0): string =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * Two time-based figures measured interleaved (A, B, A, B, …) so that both see the same machine
 * state; returns the median rates of each. Used for ratios against a raw reference.
 */
export const timeRatesInterleaved = (
  ctx: BenchContext,
  stepA: () => number,
  stepB: () => number,
): { a: number; b: number } => {
  const span = ctx.quick ? 5 : 200;
  const reps = ctx.quick ? 1 : 5;
  const rate = (step: () => number): number => {
    let units = 0;
    const t0 = nowMs();
    let t = t0;
    while (t - t0 < span) {
      units += step();
      t = nowMs();
    }
    return units / ((t - t0) / 1000);
  };
  rate(stepA);
  rate(stepB);
  const as: number[] = [];
  const bs: number[] = [];
  for (let r = 0; r < reps; r++) {
    as.push(rate(stepA));
    bs.push(rate(stepB));
  }
  return { a: median(as), b: median(bs) };
};

/** The source pattern of the copy workloads: `src[i] = (i*131 + floor(i/4096)) & 0xFF`. */
export const copySourceByte = (i: number): number => (i * 131 + Math.floor(i / 4096)) & 0xff;
