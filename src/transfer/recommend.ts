/**
 * Cross-domain / cold-start recommendation by transfer: the user vector comes from the user's source-domain
 * sequence through the (patched) pretrained network, and a NEW item table for the target domain scores target
 * items (score = user vector · item row + item bias). Trained with the full softmax over the target items, or a
 * logQ-corrected sampled softmax (`negatives` > 0) for large target catalogues. Users are split user-level, so
 * test users are cold-start in the target domain: none of their target items is seen in training.
 *
 * Evaluation is full ranking over every target item. Each of a test user's target items is one query; the user's
 * other target items are removed from that query's candidates (they are correct answers too), ties count against
 * the target. The popularity baseline (target-item counts over training users) is ranked the same way; the
 * baselines proper (popularity, item co-occurrence) are computed apart, once per split, since they do not depend
 * on the strategy.
 */
import { targetPopularity } from '../baselines/popularity.js';
import { RecommendationBaselines, recommendationBaselines } from '../baselines/recommendation.js';
import { Dataset } from '../data/dataset.js';
import { UserSplit, ValidationFold, labelledSubset, splitUsers } from '../data/split.js';
import { rankingMetrics } from '../eval/metrics.js';
import { ScoreRows, TARGET_SET_PROTOCOL, targetSetRanks } from '../eval/target-sets.js';
import { UserEncoder, forEachTableScoreRow } from '../models/encoder.js';
import { inputRows } from '../models/input-rows.js';
import { applyDropoutMask, dropoutMask, embedding, sampledSoftmaxCrossEntropy, softmaxCrossEntropy } from '../tensor/index.js';
import { NegativeSampler } from '../train/sampler.js';
import { CrossDomainExamples, crossDomainExamples } from './crossdomain.js';
import { TaskHead } from './head.js';
import { chooseStartScale, itemPairTable } from './item-pairs.js';
import { TransferAccounting, TransferOptions, trainTransfer } from './task.js';

/** Which users a cross-domain task has, with which source and target items, and how they are split. */
export interface RecommendData {
  dataset: Dataset;
  datasetName: string;
  /** The base model's item vocabulary (raw ids), to read source sequences in it. */
  baseItems: readonly string[];
  sourceDomain: string;
  targetDomain: string;
  ks: number[];
  testFraction: number;
  /** Share of the training and validation users used (fewer target-domain users; test users unchanged). */
  labelFraction: number;
  /** Which of the non-test users validate (default: the first of ten folds). */
  fold?: ValidationFold;
  seed: number;
}

export interface RecommendOptions extends TransferOptions, RecommendData {
  task: string;
  /** 0: full softmax over the target items; N: sampled softmax with N shared negatives per batch. */
  negatives: number;
  /** Add a learned item-to-item table (training users' source → target pairs) to the scores (item-pairs.ts). */
  itemPairs: boolean;
}

export interface RankingReport {
  users: number;
  queries: number;
  targetItems: number;
  protocol: string;
  /** "HR@10" etc. for the model, and the popularity baseline's under `popularity`. */
  [metric: string]: number | string | Record<string, number>;
  popularity: Record<string, number>;
}

export interface RecommendResult extends TransferAccounting {
  task: string;
  sourceDomain: string;
  targetDomain: string;
  targetItems: string[];
  /** The multiple of the co-occurrence weights the item-pair table started at (chosen on validation); null without one. */
  itemPairsStartScale: number | null;
  /** Source interactions with items the base model does not know (dropped from the sequences). */
  unknownSourceInteractions: number;
  test: RankingReport;
}

/** The protocol, with a warning when the base model saw target-domain items (so it is not a cold start). */
function coldStartProtocol(known: number, T: number): string {
  return known === 0 ? TARGET_SET_PROTOCOL
    : `${TARGET_SET_PROTOCOL}; NOT a cold start: the base model's vocabulary holds ${known} of the ${T} target items (it was pretrained on target-domain interactions)`;
}

/** Target-item scores of the task head for each history (no graph); the scores buffer is reused. */
export function forEachTargetScoreRow(model: UserEncoder, head: TaskHead, histories: readonly Int32Array[],
  visit: (user: number, scores: Float32Array) => void): void {
  const pairs = head.itemPairs;
  forEachTableScoreRow(head.weight, head.bias, head.encode(model, histories), pairs
    ? (user, scores) => {
      pairs.addScores(histories[user]!, scores);
      visit(user, scores);
    }
    : visit);
}

function splitExamples(o: RecommendData): { ex: CrossDomainExamples; split: UserSplit } {
  const ex = crossDomainExamples(o.dataset, o.baseItems, o.sourceDomain, o.targetDomain, o.datasetName, o.baseItems.length);
  return { ex, split: labelledSubset(splitUsers(new Int32Array(ex.users.length), o.testFraction, o.seed, o.fold), o.labelFraction) };
}

/** The rank of each (user, target item) query of `users` under the head's scores, over every target item. */
function targetRanks(ex: CrossDomainExamples, users: Int32Array, model: UserEncoder, head: TaskHead): Int32Array {
  return targetSetRanks(Array.from(users, (i) => ex.targets[i]!), ex.targetItems.length,
    (visit) => forEachTargetScoreRow(model, head, Array.from(users, (i) => ex.sources[i]!), visit));
}

/** A trained head's ranking metrics on the test users the task with the same data and seed has. */
export function recommendTestMetrics(o: RecommendData, model: UserEncoder, head: TaskHead): Record<string, number> {
  const { ex, split } = splitExamples(o);
  return rankingMetrics(targetRanks(ex, split.test, model, head), o.ks);
}

/** Popularity and item co-occurrence on the test users the task with the same data and seed has. */
export function recommendBaselines(o: RecommendData): RecommendationBaselines {
  const { ex, split } = splitExamples(o);
  return recommendationBaselines({ sources: ex.sources, targets: ex.targets, numTargets: ex.targetItems.length, split }, o.ks);
}

export function finetuneRecommender(o: RecommendOptions): RecommendResult {
  const { ex, split } = splitExamples(o);
  const T = ex.targetItems.length;
  const { model } = o;
  if (o.itemPairs && o.negatives > 0) {
    throw new RangeError('the item-pair table needs the full softmax over the target items (--negatives 0), or --no-item-pairs');
  }
  const counts = targetPopularity(ex.targets, split.train, T);
  const sampler = o.negatives > 0 ? new NegativeSampler(Float64Array.from([0, ...counts])) : null;
  const logQ = sampler ? sampler.logQ.slice(1) : null;

  const rank = (users: Int32Array, head: TaskHead) => targetRanks(ex, users, model, head);

  const itemPairs = o.itemPairs ? itemPairTable(ex.sources, ex.targets, split.train, inputRows(model.config), T) : null;
  let itemPairsStartScale: number | null = null;
  const dim = model.config.dim;
  const pairCount = (users: readonly number[]) => users.reduce((n, i) => n + ex.targets[i]!.length, 0);
  const accounting = trainTransfer(o, { rows: T, rowSparse: o.negatives > 0, itemPairs }, (head, rng) => {
    const validate = () => rankingMetrics(rank(split.valid, head), [10])['NDCG@10']!;
    return {
      // One example per training user: the network runs once per user, and the user's vector is repeated for each
      // of their target items, so the loss is the mean over (user, target item) pairs.
      examples: split.train.length,
      // With `rows`, the shard's users only; the dropout mask and the shared negatives are drawn for the whole batch.
      loss: (batch, shard) => {
        const all = Array.from(batch, (b) => split.train[b]!);
        const mask = dropoutMask(all.length * dim, o.dropout, rng);
        const negatives = sampler ? sampler.sample(o.negatives, rng).map((v) => v - 1) : null;
        const { start, end } = shard ?? { start: 0, end: all.length };
        const users = all.slice(start, end);
        return {
          count: pairCount(users),
          batchCount: shard ? pairCount(all) : undefined,
          loss: () => {
            const histories = users.map((i) => ex.sources[i]!);
            const uv = applyDropoutMask(head.userVectors(model, histories), mask, start * dim);
            const rows = Int32Array.from(users.flatMap((i, b) => Array.from(ex.targets[i]!, () => b)));
            const targets = Int32Array.from(users.flatMap((i) => Array.from(ex.targets[i]!)));
            const pairs = embedding(uv, rows, [rows.length]);
            if (!negatives) {
              // Each training user meets the pairs as they are without them, as a new user will (item-pairs.ts).
              const extraLogits = head.itemPairs?.extraLogits(histories, rows, users.map((i) => ex.targets[i]!));
              return softmaxCrossEntropy(pairs, head.weight, head.bias, targets, { ignoreIndex: -1, extraLogits });
            }
            return sampledSoftmaxCrossEntropy(pairs, head.weight, head.bias, targets, negatives, { logQ, ignoreIndex: -1 });
          },
        };
      },
      validate,
      prepare: () => {
        if (head.itemPairs) itemPairsStartScale = chooseStartScale(head.itemPairs, validate).scale;
      },
    };
  });

  const modelRanks = rank(split.test, accounting.head);
  const popularityRows: ScoreRows = (visit) => split.test.forEach((_, b) => visit(b, counts));
  const popRanks = targetSetRanks(Array.from(split.test, (i) => ex.targets[i]!), T, popularityRows);
  const test: RankingReport = {
    users: split.test.length,
    queries: modelRanks.length,
    targetItems: T,
    protocol: coldStartProtocol(ex.targetItemsKnownToBase, T),
    targetItemsKnownToBase: ex.targetItemsKnownToBase,
    ...rankingMetrics(modelRanks, o.ks),
    popularity: rankingMetrics(popRanks, o.ks),
  };
  return {
    ...accounting, itemPairsStartScale, task: o.task, sourceDomain: o.sourceDomain, targetDomain: o.targetDomain,
    targetItems: ex.targetItems, unknownSourceInteractions: ex.unknownSourceInteractions, test,
  };
}
