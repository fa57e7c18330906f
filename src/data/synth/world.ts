/**
 * The latent world behind the synthetic data: user segments and traits, and per domain the topics and items with
 * their latent vectors, popularity and topic-to-topic successors. Everything here is hidden truth: the CSVs show only
 * its consequences, and the oracle in check.ts reads it to score the best possible next-item prediction.
 */
import { Rng } from '../../tensor/rng.js';

/** Life stages, one per user segment (segment s is LIFE_STAGES[s]). */
export const LIFE_STAGES = ['student', 'single', 'parent', 'retired'] as const;
export type LifeStage = (typeof LIFE_STAGES)[number];
export const NUM_SEGMENTS = LIFE_STAGES.length;
/** Share of users per segment, unequal so that the majority-class baseline is a real number to beat. */
export const SEGMENT_SHARES = [0.25, 0.3, 0.3, 0.15] as const;

/**
 * Latent space: dimension 0 is the gender lean (+1 female, -1 male), dimensions 1..NUM_SEGMENTS are one axis per
 * segment, the last dimension is free taste that no attribute explains.
 */
export const LATENT_DIMS = NUM_SEGMENTS + 2;
const GENDER_DIM = 0;
const FREE_DIM = LATENT_DIMS - 1;
const SEGMENT_AXIS_LENGTH = 1.5;
const GENDER_AXIS_LENGTH = 1;
const USER_TRAIT_NOISE = 0.5;
const TOPIC_NOISE = 0.35;
const ITEM_NOISE = 0.5;

/** Topics are grouped into cells (segment × gender lean); a topic's usual successor stays in its cell. */
export const NUM_CELLS = 2 * NUM_SEGMENTS;
const ITEMS_PER_TOPIC = 40;
const MAX_TOPICS = 200;

/** Item popularity is Zipf–Mandelbrot over a random rank: weight 1 / (rank + offset)^exponent, rank from 1. */
const POPULARITY_EXPONENT = 1;
const POPULARITY_OFFSET = 5;

/** How the next item's topic is chosen, as probabilities of three moves (they sum to 1). */
export interface TopicDynamics {
  /** Move to one of the current topic's two successors (which one depends on the user's taste). */
  follow: number;
  /** Stay in the current topic. */
  stay: number;
  /** Jump to any topic, chosen by the user's taste alone. */
  jump: number;
}

/** Source domain: a strong topic chain (what a sequential model must learn), mixed with taste. */
export const SOURCE_DYNAMICS: TopicDynamics = { follow: 0.6, stay: 0.15, jump: 0.25 };
/** Target domain: no chain; choices come from the same user taste, so the source sequence predicts them. */
export const TARGET_DYNAMICS: TopicDynamics = { follow: 0, stay: 0.3, jump: 0.7 };

export interface SyntheticDomain {
  /** Value of the domain column: 'A', 'B'. */
  name: string;
  /** Item-id prefix: 'a17' is item index 16 of domain A. */
  prefix: string;
  numItems: number;
  numTopics: number;
  dynamics: TopicDynamics;
  itemTopic: Int32Array;
  topicItems: Int32Array[];
  topicSegment: Int32Array;
  /** +1 or -1: which gender the topic leans to. */
  topicLean: Int8Array;
  /** numTopics × LATENT_DIMS, row-major. */
  topicVectors: Float64Array;
  /** numItems × LATENT_DIMS, row-major. */
  itemVectors: Float64Array;
  /** Unnormalised popularity weight per item. */
  popularity: Float64Array;
  /** The next topic in the same cell (cyclic): the chain a sequential model can learn. */
  primarySuccessor: Int32Array;
  /** A fixed random other topic: the chain's branch, taken more often by users whose taste fits it. */
  secondarySuccessor: Int32Array;
}

export interface UserTraits {
  segment: number;
  /** +1 female, -1 male (the latent gender; the reported one in users.csv is noisy). */
  gender: 1 | -1;
  /** LATENT_DIMS numbers. */
  taste: Float64Array;
}

/**
 * Independent random streams per purpose, so that the domain-A data of a seed does not change when domain B is
 * added or its options change.
 */
export function streamRng(seed: number, stream: number): Rng {
  let h = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35);
  return new Rng((h ^ (h >>> 13)) | 0);
}

export function buildDomain(rng: Rng, index: number, numItems: number, dynamics: TopicDynamics): SyntheticDomain {
  const numTopics = Math.min(MAX_TOPICS, Math.max(NUM_CELLS, Math.round(numItems / ITEMS_PER_TOPIC)));
  const topicSegment = new Int32Array(numTopics);
  const topicLean = new Int8Array(numTopics);
  const topicVectors = new Float64Array(numTopics * LATENT_DIMS);
  const primarySuccessor = new Int32Array(numTopics);
  const secondarySuccessor = new Int32Array(numTopics);
  for (let k = 0; k < numTopics; k++) {
    const cell = k % NUM_CELLS;
    topicSegment[k] = cell % NUM_SEGMENTS;
    topicLean[k] = cell < NUM_SEGMENTS ? 1 : -1;
    const v = topicVectors.subarray(k * LATENT_DIMS, (k + 1) * LATENT_DIMS);
    v[GENDER_DIM] = topicLean[k]! * GENDER_AXIS_LENGTH;
    for (let d = 1; d < LATENT_DIMS; d++) v[d] = rng.normal(0, TOPIC_NOISE);
    v[1 + topicSegment[k]!]! += SEGMENT_AXIS_LENGTH;
    primarySuccessor[k] = k + NUM_CELLS < numTopics ? k + NUM_CELLS : cell;
    const other = rng.int(0, numTopics - 1);
    secondarySuccessor[k] = other >= k ? other + 1 : other;
  }

  // Topics get an equal share of a random permutation of the items; popularity ranks are another permutation,
  // so every topic holds both hits and long-tail items.
  const itemTopic = new Int32Array(numItems);
  const order = rng.shuffle(Int32Array.from({ length: numItems }, (_, i) => i));
  for (let j = 0; j < numItems; j++) itemTopic[order[j]!] = j % numTopics;
  const members: number[][] = Array.from({ length: numTopics }, () => []);
  for (let i = 0; i < numItems; i++) members[itemTopic[i]!]!.push(i);
  const topicItems = members.map((m) => Int32Array.from(m));
  const itemVectors = new Float64Array(numItems * LATENT_DIMS);
  for (let i = 0; i < numItems; i++) {
    const k = itemTopic[i]!;
    for (let d = 0; d < LATENT_DIMS; d++) {
      itemVectors[i * LATENT_DIMS + d] = topicVectors[k * LATENT_DIMS + d]! + rng.normal(0, ITEM_NOISE);
    }
  }
  const rank = rng.shuffle(Int32Array.from({ length: numItems }, (_, i) => i + 1));
  const popularity = Float64Array.from(rank, (r) => (r + POPULARITY_OFFSET) ** -POPULARITY_EXPONENT);

  const name = String.fromCharCode(65 + index);
  return {
    name,
    prefix: name.toLowerCase(),
    numItems,
    numTopics,
    dynamics,
    itemTopic,
    topicItems,
    topicSegment,
    topicLean,
    topicVectors,
    itemVectors,
    popularity,
    primarySuccessor,
    secondarySuccessor,
  };
}

export function drawUserTraits(rng: Rng): UserTraits {
  let segment = 0;
  for (let u = rng.uniform(), acc = 0; segment < NUM_SEGMENTS - 1; segment++) {
    acc += SEGMENT_SHARES[segment]!;
    if (u < acc) break;
  }
  const gender: 1 | -1 = rng.uniform() < 0.5 ? 1 : -1;
  const taste = new Float64Array(LATENT_DIMS);
  taste[GENDER_DIM] = gender * GENDER_AXIS_LENGTH + rng.normal(0, USER_TRAIT_NOISE);
  for (let d = 1; d < FREE_DIM; d++) taste[d] = rng.normal(0, USER_TRAIT_NOISE);
  taste[1 + segment]! += SEGMENT_AXIS_LENGTH;
  taste[FREE_DIM] = rng.normal(0, 1);
  return { segment, gender, taste };
}
