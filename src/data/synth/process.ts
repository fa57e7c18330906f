/**
 * The next-item process of one user in one domain. The sampler (generate.ts) and the oracle (check.ts) both use
 * this one class, so the oracle scores with exactly the distribution the data was drawn from.
 *
 *   P(next topic k) = follow · P(successor k | current topic, taste) + stay · [k = current] + jump · softmax_k(taste)
 *   P(next item i | topic k) ∝ popularity(i) · exp(ITEM_TASTE_SCALE · taste · itemVector(i)), over unseen items of k
 *
 * Items already in the user's sequence (in this domain) are never drawn again; topics with no unseen item left
 * get probability 0 and the rest is renormalised.
 */
import type { Rng } from '../../tensor/rng.js';
import { LATENT_DIMS, type SyntheticDomain } from './world.js';

/**
 * How strongly taste steers choices: sharply between topics (so behaviour reveals segment and gender, and the
 * target domain is predictable from the source), gently between items of one topic (so popularity still matters).
 */
const TOPIC_TASTE_SCALE = 1;
const ITEM_TASTE_SCALE = 0.4;

function affinity(taste: Float64Array, vectors: Float64Array, row: number, scale: number): number {
  let dot = 0;
  for (let d = 0; d < LATENT_DIMS; d++) dot += taste[d]! * vectors[row * LATENT_DIMS + d]!;
  return Math.exp(scale * dot);
}

export class SequenceState {
  readonly seen = new Set<number>();
  private currentTopic = -1;
  /** exp(TOPIC_TASTE_SCALE · taste · topicVector), the weights of a taste-driven topic choice. */
  private readonly topicAffinity: Float64Array;
  private readonly topicAffinitySum: number;
  private readonly seenPerTopic: Int32Array;
  /** popularity · exp(affinity) per item of a topic, computed the first time the topic is visited. */
  private readonly itemWeights: (Float64Array | undefined)[];
  private readonly topicProbabilities: Float64Array;

  constructor(
    private readonly domain: SyntheticDomain,
    private readonly taste: Float64Array,
  ) {
    this.topicAffinity = new Float64Array(domain.numTopics);
    let sum = 0;
    for (let k = 0; k < domain.numTopics; k++) sum += this.topicAffinity[k] = affinity(taste, domain.topicVectors, k, TOPIC_TASTE_SCALE);
    this.topicAffinitySum = sum;
    this.seenPerTopic = new Int32Array(domain.numTopics);
    this.itemWeights = new Array<Float64Array | undefined>(domain.numTopics);
    this.topicProbabilities = new Float64Array(domain.numTopics);
  }

  /** Records that the user chose `item` (it becomes the current item and is never drawn again). */
  observe(item: number): void {
    this.seen.add(item);
    this.currentTopic = this.domain.itemTopic[item]!;
    this.seenPerTopic[this.currentTopic]!++;
  }

  /** Distribution of the next item's topic (a view into a buffer that the next call overwrites). */
  nextTopicDistribution(): Float64Array {
    const { dynamics, numTopics, primarySuccessor, secondarySuccessor, topicItems } = this.domain;
    const p = this.topicProbabilities;
    const jump = this.currentTopic < 0 ? 1 : dynamics.jump;
    for (let k = 0; k < numTopics; k++) p[k] = (jump * this.topicAffinity[k]!) / this.topicAffinitySum;
    if (this.currentTopic >= 0) {
      const t = this.currentTopic;
      const first = primarySuccessor[t]!;
      const second = secondarySuccessor[t]!;
      const a = this.topicAffinity[first]!;
      const b = this.topicAffinity[second]!;
      p[first]! += (dynamics.follow * a) / (a + b);
      p[second]! += (dynamics.follow * b) / (a + b);
      p[t]! += dynamics.stay;
    }
    let total = 0;
    for (let k = 0; k < numTopics; k++) {
      if (this.seenPerTopic[k] === topicItems[k]!.length) p[k] = 0;
      total += p[k]!;
    }
    for (let k = 0; k < numTopics; k++) p[k]! /= total;
    return p;
  }

  sampleNext(rng: Rng): number {
    const topic = sampleIndex(rng, this.nextTopicDistribution());
    const items = this.domain.topicItems[topic]!;
    const weights = this.weightsOf(topic);
    let total = 0;
    for (let j = 0; j < items.length; j++) if (!this.seen.has(items[j]!)) total += weights[j]!;
    let u = rng.uniform() * total;
    let last = -1;
    for (let j = 0; j < items.length; j++) {
      if (this.seen.has(items[j]!)) continue;
      last = items[j]!;
      u -= weights[j]!;
      if (u < 0) break;
    }
    return last;
  }

  /** The true probability of every item of the domain being next (0 for items already seen). */
  nextItemDistribution(): Float64Array {
    const topicP = this.nextTopicDistribution().slice();
    const out = new Float64Array(this.domain.numItems);
    for (let k = 0; k < this.domain.numTopics; k++) {
      if (topicP[k] === 0) continue;
      const items = this.domain.topicItems[k]!;
      const weights = this.weightsOf(k);
      let total = 0;
      for (let j = 0; j < items.length; j++) if (!this.seen.has(items[j]!)) total += weights[j]!;
      for (let j = 0; j < items.length; j++) if (!this.seen.has(items[j]!)) out[items[j]!] = (topicP[k]! * weights[j]!) / total;
    }
    return out;
  }

  private weightsOf(topic: number): Float64Array {
    let w = this.itemWeights[topic];
    if (!w) {
      const items = this.domain.topicItems[topic]!;
      w = new Float64Array(items.length);
      for (let j = 0; j < items.length; j++) {
        w[j] = this.domain.popularity[items[j]!]! * affinity(this.taste, this.domain.itemVectors, items[j]!, ITEM_TASTE_SCALE);
      }
      this.itemWeights[topic] = w;
    }
    return w;
  }
}

function sampleIndex(rng: Rng, p: Float64Array): number {
  let u = rng.uniform();
  let last = 0;
  for (let k = 0; k < p.length; k++) {
    if (p[k] === 0) continue;
    last = k;
    u -= p[k]!;
    if (u < 0) break;
  }
  return last;
}
