/**
 * Seeded random numbers. One generator (xoroshiro128+ from pure-rand) underlies every draw, so the same seed gives
 * the same stream on every machine; its state can be saved and restored for resumable training.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

export class Rng {
  private readonly gen: JumpableRandomGenerator;

  constructor(seed: number | { state: readonly number[] }) {
    if (typeof seed === 'number') {
      if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
      this.gen = xoroshiro128plus(seed | 0);
    } else {
      this.gen = xoroshiro128plusFromState(seed.state);
    }
  }

  /** Generator state for checkpoints: `new Rng({ state })` continues the same stream. */
  state(): number[] {
    return [...this.gen.getState()];
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform integer in [low, high) (high exclusive). */
  int(low: number, high: number): number {
    if (!(high > low)) throw new RangeError(`int(${low}, ${high}): empty range`);
    return uniformInt(this.gen, low, high - 1);
  }

  /** Standard normal scaled by std around mean (Box-Muller; one draw per pair keeps the state simple). */
  normal(mean = 0, std = 1): number {
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Normal(0, std) redrawn until within ±2 std (TensorFlow's truncated_normal, used by NextItNet's init). */
  truncatedNormal(std: number, mean = 0): number {
    for (;;) {
      const z = this.normal();
      if (z >= -2 && z <= 2) return mean + std * z;
    }
  }

  fillUniform(out: Float32Array, low: number, high: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.uniform();
    return out;
  }

  fillNormal(out: Float32Array, std: number, mean = 0): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  fillTruncatedNormal(out: Float32Array, std: number, mean = 0): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.truncatedNormal(std, mean);
    return out;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}
