/**
 * A seeded xorshift32 generator: the only source of randomness in the model, so the same seed gives
 * the same run. Its step is exactly `x ^= x << 13; x ^= x >>> 17; x ^= x << 5`.
 */
export class Rng {
  private state: number;

  /** @param seed any 32-bit value; 0 (a fixed point of xorshift) is replaced by a constant. */
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** The next value, a uint32. */
  nextU32(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  /** A value in `[0, n)` as `nextU32() % n` (n ≤ 2^32). */
  below(n: number): number {
    return this.nextU32() % n;
  }

  /** True with probability `p` (resolution 2^-32). */
  chance(p: number): boolean {
    return this.nextU32() < p * 0x1_0000_0000;
  }

  /** The generator's state, to save and resume a run. */
  get seed(): number {
    return this.state;
  }
}
