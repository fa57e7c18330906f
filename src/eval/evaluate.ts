/**
 * Next-item evaluation by FULL ranking: each held-out target is ranked against every item (padding excluded), ties
 * counted against the target. By default items already in the user's history stay in the candidate set (stated
 * in the output); `maskHistory` removes them (except the target). A sampled mode (target + N random negatives)
 * exists only to compare with papers that report it, and is labelled as such. Every result carries the
 * popularity baseline on the same users, candidates and tie rule.
 */
import { HeldOut } from '../data/split.js';
import { UserEncoder, encodeHistories, forEachScoreRow } from '../models/encoder.js';
import { Rng, backend } from '../tensor/index.js';
import { rankingMetrics } from './metrics.js';

export interface EvaluateOptions {
  ks: number[];
  maskHistory: boolean;
  /** Rank among the target and this many sampled negatives instead of all items (paper comparison only). */
  sampledNegatives?: number;
  seed?: number;
  /** Also rank with the popularity baseline (default true; the trainer skips it after the first epoch). */
  withPopularity?: boolean;
  /** A score per output row added to the model's before ranking (a popularity prior); none by default. */
  prior?: Float32Array | null;
  /**
   * Data-parallel: this process ranks only the users [start, end), and `gather` joins every process's ranks in
   * user order (an allgather), so the metrics are those of ranking every user in one process. Full ranking only:
   * sampled negatives come from one stream over all users.
   */
  shard?: { start: number; end: number; gather: (ranks: Int32Array) => Int32Array };
}

export interface EvaluationResult {
  users: number;
  items: number;
  protocol: string;
  historyMasked: boolean;
  metrics: Record<string, number>;
  popularity: Record<string, number> | null;
}

/**
 * Pessimistic rank of the target over items 1..numItems, skipping `excluded` items (distinct, not the target).
 * scores[0] (padding) is ignored. A NaN score on any candidate means the model is broken: the target then ranks
 * last, so a NaN can never flatter a model (a NaN compares false with everything, so it would otherwise rank below
 * the target).
 */
export function fullRank(scores: Float32Array, numItems: number, target: number, excluded: Int32Array | null): number {
  const st = scores[target]!;
  let rank = 0;
  let nan = false;
  for (let v = 1; v <= numItems; v++) {
    const s = scores[v]!;
    if (s >= st) rank++;
    else if (s !== s) nan = true;
  }
  rank--; // the target itself (or, for a NaN target, not counted above: rank is then replaced below)
  if (excluded) {
    for (const v of excluded) if (scores[v]! >= st) rank--;
  }
  return nan || st !== st ? numItems - 1 - (excluded?.length ?? 0) : rank;
}

/** Items of the history other than the target, each once: the candidates history masking removes. */
function historyExclusions(history: Int32Array, target: number): Int32Array {
  return Int32Array.from(new Set(history).values()).filter((v) => v !== target);
}

/** Rank among the target and `negatives` distinct random items (excluding the target and, if given, excluded). */
function sampledRank(scores: Float32Array, numItems: number, target: number, negatives: number, rng: Rng,
  excluded: Int32Array | null): number {
  const banned = new Set<number>(excluded ?? []);
  banned.add(target);
  const available = numItems - banned.size;
  const want = Math.min(negatives, available);
  const chosen = new Set<number>();
  while (chosen.size < want) {
    const v = rng.int(1, numItems + 1);
    if (!banned.has(v)) chosen.add(v);
  }
  // A NaN score anywhere in the row (sampled or not) means the model is broken: the target ranks last (see fullRank).
  for (let v = 1; v <= numItems; v++) if (Number.isNaN(scores[v])) return want;
  const st = scores[target]!;
  let rank = 0;
  for (const v of chosen) if (scores[v]! >= st) rank++;
  return rank;
}

export function evaluateNextItem(model: UserEncoder, heldOut: HeldOut, popularityCounts: Float64Array,
  options: EvaluateOptions): EvaluationResult {
  const { numItems } = model.config;
  const { shard } = options;
  if (shard && (options.sampledNegatives ?? 0) > 0) throw new RangeError('a sharded evaluation ranks against all items only');
  const users = heldOut.targets.length;
  if (shard) heldOut = { users: heldOut.users.subarray(shard.start, shard.end), histories: heldOut.histories.slice(shard.start, shard.end), targets: heldOut.targets.subarray(shard.start, shard.end) };
  const joined = (ranks: Int32Array) => (shard ? shard.gather(ranks) : ranks);
  const n = heldOut.targets.length;
  const modelRanks = new Int32Array(n);
  const withPopularity = options.withPopularity ?? true;
  const popRanks = new Int32Array(n);
  const popScores = Float32Array.from(popularityCounts);
  const sampled = options.sampledNegatives ?? 0;
  // One RNG stream per ranker, so model and popularity see the same sampled candidates.
  const seed = options.seed ?? 1;
  const modelRng = new Rng(seed);
  const popRng = new Rng(seed);
  const vectors = encodeHistories(model, heldOut.histories);
  const prior = options.prior ?? null;
  forEachScoreRow(model, vectors, (i, scores) => {
    if (prior) backend().axpy(scores, 1, prior);
    const target = heldOut.targets[i]!;
    const excluded = options.maskHistory ? historyExclusions(heldOut.histories[i]!, target) : null;
    if (sampled > 0) {
      modelRanks[i] = sampledRank(scores, numItems, target, sampled, modelRng, excluded);
      if (withPopularity) popRanks[i] = sampledRank(popScores, numItems, target, sampled, popRng, excluded);
    } else {
      modelRanks[i] = fullRank(scores, numItems, target, excluded);
      if (withPopularity) popRanks[i] = fullRank(popScores, numItems, target, excluded);
    }
  });
  return {
    users,
    items: numItems,
    protocol: sampled > 0
      ? `sampled: target ranked among ${sampled} random negatives (for comparison with papers only)`
      : 'full ranking over all items, ties counted against the target',
    historyMasked: options.maskHistory,
    metrics: rankingMetrics(joined(modelRanks), options.ks),
    popularity: withPopularity ? rankingMetrics(joined(popRanks), options.ks) : null,
  };
}
