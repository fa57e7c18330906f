/**
 * Negative sampler for the sampled softmax: items drawn with probability ∝ (count + 1)^0.75 over the training
 * data (word2vec's smoothed unigram), shared by the whole batch. It returns log q(item) for the logQ correction,
 * which removes the sampler's popularity bias from the learned scores.
 */
import { Rng } from '../tensor/index.js';

export class NegativeSampler {
  /** Cumulative probabilities over items 1..numItems (cdf[i] for item i + 1). */
  private readonly cdf: Float64Array;
  readonly logQ: Float32Array;

  constructor(counts: Float64Array, power = 0.75) {
    const numItems = counts.length - 1;
    const weights = new Float64Array(numItems);
    let total = 0;
    for (let i = 0; i < numItems; i++) {
      weights[i] = (counts[i + 1]! + 1) ** power;
      total += weights[i]!;
    }
    this.cdf = new Float64Array(numItems);
    this.logQ = new Float32Array(numItems + 1);
    let acc = 0;
    for (let i = 0; i < numItems; i++) {
      acc += weights[i]! / total;
      this.cdf[i] = acc;
      this.logQ[i + 1] = Math.log(weights[i]! / total);
    }
    this.cdf[numItems - 1] = 1;
  }

  /** n item ids (with replacement) from the sampling distribution. */
  sample(n: number, rng: Rng): Int32Array {
    const out = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      const u = rng.uniform();
      let lo = 0;
      let hi = this.cdf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.cdf[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      out[j] = lo + 1;
    }
    return out;
  }
}
