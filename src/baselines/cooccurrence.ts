/**
 * Item-to-item co-occurrence across domains (ItemKNN-style): from training users only, count for each source
 * item s and target item t the users who have both, c(s, t), and weigh it cosine-like with a shrink that damps
 * pairs seen by few users:
 *
 *   w(s, t) = c(s, t) / (sqrt(n(s) · n(t)) + shrink)      n(·) = training users having the item
 *
 * A user's score of target t is Σ over their distinct source items of w(s, t), scaled to a maximum of 1 and
 * blended with popularity (also scaled to 1): (1 − β)·co-occurrence + β·popularity. Popularity orders what
 * co-occurrence leaves tied, and ranks alone for users none of whose source items co-occurs with anything.
 */
import { targetPopularity } from './popularity.js';

export interface CooccurrenceCounts {
  numTargets: number;
  /** Per source item (index), the targets it co-occurs with and how many training users have both (CSR). */
  indptr: Int32Array;
  targets: Int32Array;
  counts: Float32Array;
  /** Training users having each source item / each target item. */
  sourceUsers: Float32Array;
  targetUsers: Float32Array;
}

export interface CooccurrenceSettings {
  shrink: number;
  /** β: the popularity share of the blended score, in (0, 1]. */
  popularityWeight: number;
}

/** Counts over the `users` (indices into `sources` / `targets`); source items are indices ≥ 0, targets 0..T-1. */
export function cooccurrenceCounts(sources: readonly Int32Array[], targets: readonly Int32Array[], users: Int32Array,
  numTargets: number): CooccurrenceCounts {
  const distinct = (items: Int32Array) => Int32Array.from(new Set(items));
  let numSources = 0;
  for (const s of sources) for (const v of s) numSources = Math.max(numSources, v + 1);
  const sourceUsers = new Float32Array(numSources);
  const usersOf: number[][] = Array.from({ length: numSources }, () => []);
  for (const u of users) {
    for (const s of distinct(sources[u]!)) {
      sourceUsers[s]!++;
      usersOf[s]!.push(u);
    }
  }
  // One source item at a time: accumulate its users' targets into a dense row, then keep the nonzeros.
  const indptr = new Int32Array(numSources + 1);
  const pairTargets: number[] = [];
  const pairCounts: number[] = [];
  const row = new Float32Array(numTargets);
  for (let s = 0; s < numSources; s++) {
    const touched: number[] = [];
    for (const u of usersOf[s]!) {
      for (const t of targets[u]!) {
        if (row[t] === 0) touched.push(t);
        row[t]!++;
      }
    }
    touched.sort((a, b) => a - b);
    for (const t of touched) {
      pairTargets.push(t);
      pairCounts.push(row[t]!);
      row[t] = 0;
    }
    indptr[s + 1] = pairTargets.length;
  }
  return {
    numTargets, indptr, targets: Int32Array.from(pairTargets), counts: Float32Array.from(pairCounts), sourceUsers,
    targetUsers: targetPopularity(targets, users, numTargets),
  };
}

/** The weight of a pair c users have, of a source item n(s) users and a target item n(t) users have. */
export function cooccurrenceWeight(c: number, ns: number, nt: number, shrink: number): number {
  return c <= 0 ? 0 : c / (Math.sqrt(ns * nt) + shrink);
}

/** Writes the blended scores of a user with source items `history` into `out` (length T). */
export function cooccurrenceScores(m: CooccurrenceCounts, history: Int32Array, settings: CooccurrenceSettings,
  out: Float32Array): Float32Array {
  const { shrink, popularityWeight } = settings;
  const scores = new Float64Array(m.numTargets);
  for (const s of new Set(history)) {
    if (s >= m.sourceUsers.length) continue; // a source item no user had: no evidence
    for (let j = m.indptr[s]!; j < m.indptr[s + 1]!; j++) {
      const t = m.targets[j]!;
      scores[t]! += cooccurrenceWeight(m.counts[j]!, m.sourceUsers[s]!, m.targetUsers[t]!, shrink);
    }
  }
  let top = 0;
  let topPopularity = 0;
  for (let t = 0; t < m.numTargets; t++) {
    top = Math.max(top, scores[t]!);
    topPopularity = Math.max(topPopularity, m.targetUsers[t]!);
  }
  const cooccurrenceScale = top > 0 ? (1 - popularityWeight) / top : 0;
  const popularityScale = popularityWeight / Math.max(topPopularity, 1);
  for (let t = 0; t < m.numTargets; t++) out[t] = cooccurrenceScale * scores[t]! + popularityScale * m.targetUsers[t]!;
  return out;
}
