/**
 * The comparison rows of a cross-domain recommendation result, on the same users and by the same full-ranking
 * rule as the transferred model (eval/target-sets.ts): popularity of the target items among the training users,
 * and source → target item co-occurrence whose shrink and popularity blend are chosen on the validation users
 * (NDCG@10, the model's early-stopping score).
 */
import { UserSplit } from '../data/split.js';
import { rankingMetrics } from '../eval/metrics.js';
import { targetSetRanks } from '../eval/target-sets.js';
import { CooccurrenceCounts, CooccurrenceSettings, cooccurrenceCounts, cooccurrenceScores } from './cooccurrence.js';
import { targetPopularity } from './popularity.js';

export interface CrossDomainUsers {
  /** Per user: source-domain items (any non-negative item indices). */
  sources: readonly Int32Array[];
  /** Per user: target items 0..numTargets-1, each once. */
  targets: readonly Int32Array[];
  numTargets: number;
  /** Indices into sources / targets. */
  split: UserSplit;
}

/** HR@k / NDCG@k / MRR@k on the test users, and the settings validation chose. */
export type CooccurrenceReport = Record<string, number> & CooccurrenceSettings;

export interface RecommendationBaselines {
  popularity: Record<string, number>;
  cooccurrence: CooccurrenceReport;
  /** NDCG@10 on the validation users (co-occurrence at the settings chosen there): what a task may be judged against. */
  validation: { popularity: number; cooccurrence: number };
}

/** Settings tried on the validation users; a popularity weight of 0.001 makes popularity a mere tie-breaker. */
export const SHRINK_GRID = [0, 10, 50];
export const POPULARITY_WEIGHT_GRID = [0.001, 0.01, 0.1, 0.3, 0.5];

function cooccurrenceRanks(d: CrossDomainUsers, counts: CooccurrenceCounts, users: Int32Array, settings: CooccurrenceSettings): Int32Array {
  const row = new Float32Array(d.numTargets);
  return targetSetRanks(Array.from(users, (u) => d.targets[u]!), d.numTargets, (visit) => {
    users.forEach((u, i) => visit(i, cooccurrenceScores(counts, d.sources[u]!, settings, row)));
  });
}

/** Popularity and co-occurrence (fit on the training users, tuned on the validation users) on the test users. */
export function recommendationBaselines(d: CrossDomainUsers, ks: readonly number[]): RecommendationBaselines {
  const { split } = d;
  const counts = cooccurrenceCounts(d.sources, d.targets, split.train, d.numTargets);
  let best: { ndcg: number; settings: CooccurrenceSettings } | null = null;
  for (const shrink of SHRINK_GRID) {
    for (const popularityWeight of POPULARITY_WEIGHT_GRID) {
      const settings = { shrink, popularityWeight };
      const ndcg = rankingMetrics(cooccurrenceRanks(d, counts, split.valid, settings), [10])['NDCG@10']!;
      if (!best || ndcg > best.ndcg) best = { ndcg, settings };
    }
  }
  const popularity = targetPopularity(d.targets, split.train, d.numTargets);
  const popularityRanks = (users: Int32Array) => targetSetRanks(Array.from(users, (u) => d.targets[u]!), d.numTargets, (visit) => {
    users.forEach((_, i) => visit(i, popularity));
  });
  return {
    popularity: rankingMetrics(popularityRanks(split.test), ks),
    cooccurrence: { ...rankingMetrics(cooccurrenceRanks(d, counts, split.test, best!.settings), ks), ...best!.settings },
    validation: { popularity: rankingMetrics(popularityRanks(split.valid), [10])['NDCG@10']!, cooccurrence: best!.ndcg },
  };
}
