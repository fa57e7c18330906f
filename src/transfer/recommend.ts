/**
 * Cross-domain / cold-start recommendation by transfer: the user vector comes from the user's source-domain
 * sequence through the (patched) pretrained network, and a NEW item table for the target domain scores target
 * items (score = user vector · item row + item bias). Trained with the full softmax over the target items, or a
 * logQ-corrected sampled softmax (`negatives` > 0) for large target catalogues. Users are split user-level, so
 * test users are cold-start in the target domain: none of their target items is seen in training.
 *
 * Evaluation is full ranking over every target item. Each of a test user's target items is one query; the user's
 * other target items are removed from that query's candidates (they are correct answers too), ties count against
 * the target. The popularity baseline (target-item counts over training users) is ranked the same way.
 */
import { Dataset } from '../data/dataset.js';
import { fullRank } from '../eval/evaluate.js';
import { rankingMetrics } from '../eval/metrics.js';
import { NextItNet, encodeHistories, forEachTableScoreRow } from '../models/nextitnet.js';
import { Parameter, embedding, sampledSoftmaxCrossEntropy, softmaxCrossEntropy } from '../tensor/index.js';
import { NegativeSampler } from '../train/sampler.js';
import { CrossDomainExamples, crossDomainExamples } from './crossdomain.js';
import { splitUsers } from './labels.js';
import { TransferAccounting, TransferOptions, trainTransfer } from './task.js';

export interface RecommendOptions extends TransferOptions {
  task: string;
  dataset: Dataset;
  datasetName: string;
  /** The base model's item vocabulary (raw ids), to read source sequences in it. */
  baseItems: readonly string[];
  sourceDomain: string;
  targetDomain: string;
  /** 0: full softmax over the target items; N: sampled softmax with N shared negatives per batch. */
  negatives: number;
  ks: number[];
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
  /** Source interactions with items the base model does not know (dropped from the sequences). */
  unknownSourceInteractions: number;
  test: RankingReport;
}

export const RANKING_PROTOCOL = 'full ranking over all target items; one query per (test user, target item), the user\'s other target items excluded from its candidates; ties counted against the target';

/** The protocol, with a warning when the base model saw target-domain items (so it is not a cold start). */
function coldStartProtocol(known: number, T: number): string {
  return known === 0 ? RANKING_PROTOCOL
    : `${RANKING_PROTOCOL}; NOT a cold start: the base model's vocabulary holds ${known} of the ${T} target items (it was pretrained on target-domain interactions)`;
}

/** Target-item scores of the task head for each history (no graph); the scores buffer is reused. */
export function forEachTargetScoreRow(model: NextItNet, head: Parameter[], histories: readonly Int32Array[],
  visit: (user: number, scores: Float32Array) => void): void {
  forEachTableScoreRow(head[0]!, head[1]!, encodeHistories(model, histories), visit);
}

/**
 * Ranks of every (user, target) query, for the model (scores from `scoreRows`) or for fixed scores. Scores are
 * placed at 1..T of a scratch row so the shared full-ranking rule (index 0 = padding, skipped) applies.
 */
function queryRanks(targets: readonly Int32Array[], T: number, forEachRow: (visit: (user: number, scores: Float32Array) => void) => void): Int32Array {
  const ranks: number[] = [];
  const scratch = new Float32Array(T + 1);
  forEachRow((u, scores) => {
    scratch.set(scores, 1);
    const mine = targets[u]!;
    for (const t of mine) {
      const others = Int32Array.from(mine.filter((o) => o !== t), (o) => o + 1);
      ranks.push(fullRank(scratch, T, t + 1, others));
    }
  });
  return Int32Array.from(ranks);
}

function targetCounts(examples: CrossDomainExamples, users: Int32Array): Float32Array {
  const counts = new Float32Array(examples.targetItems.length);
  for (const i of users) for (const t of examples.targets[i]!) counts[t]!++;
  return counts;
}

export function finetuneRecommender(o: RecommendOptions): RecommendResult {
  const ex = crossDomainExamples(o.dataset, o.baseItems, o.sourceDomain, o.targetDomain, o.datasetName, o.model.config.numItems);
  const T = ex.targetItems.length;
  const split = splitUsers(new Int32Array(ex.users.length), o.testFraction, o.seed);
  const { model } = o;
  const counts = targetCounts(ex, split.train);
  const sampler = o.negatives > 0 ? new NegativeSampler(Float64Array.from([0, ...counts])) : null;
  const logQ = sampler ? sampler.logQ.slice(1) : null;

  const rank = (users: Int32Array, head: Parameter[]) => queryRanks(Array.from(users, (i) => ex.targets[i]!), T,
    (visit) => forEachTargetScoreRow(model, head, Array.from(users, (i) => ex.sources[i]!), visit));

  const accounting = trainTransfer(o, { rows: T, rowSparse: o.negatives > 0 }, (head, rng) => ({
    // One example per training user: the network runs once per user, and the user's vector is repeated for each
    // of their target items, so the loss is the mean over (user, target item) pairs.
    examples: split.train.length,
    loss: (batch) => {
      const users = Array.from(batch, (b) => split.train[b]!);
      const uv = model.userVectors(users.map((i) => ex.sources[i]!));
      const rows = Int32Array.from(users.flatMap((i, b) => Array.from(ex.targets[i]!, () => b)));
      const targets = Int32Array.from(users.flatMap((i) => Array.from(ex.targets[i]!)));
      const pairs = embedding(uv, rows, [rows.length]);
      if (!sampler) return softmaxCrossEntropy(pairs, head[0]!, head[1]!, targets, { ignoreIndex: -1 });
      const negatives = sampler.sample(o.negatives, rng).map((v) => v - 1);
      return sampledSoftmaxCrossEntropy(pairs, head[0]!, head[1]!, targets, negatives, { logQ, ignoreIndex: -1 });
    },
    validate: () => rankingMetrics(rank(split.valid, head), [10])['NDCG@10']!,
  }));

  const modelRanks = rank(split.test, accounting.head);
  const popRanks = queryRanks(Array.from(split.test, (i) => ex.targets[i]!), T, (visit) => {
    split.test.forEach((_, b) => visit(b, counts));
  });
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
    ...accounting, task: o.task, sourceDomain: o.sourceDomain, targetDomain: o.targetDomain,
    targetItems: ex.targetItems, unknownSourceInteractions: ex.unknownSourceInteractions, test,
  };
}
