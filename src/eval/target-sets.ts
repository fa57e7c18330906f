/**
 * Full ranking when each user has a SET of correct items (the target-domain items of a cold-start user): every
 * item of the set is one query, ranked against all T candidates with the user's other correct items removed from
 * that query's candidates, ties counted against the target. Models and baselines are ranked by this one rule.
 */
import { fullRank } from './evaluate.js';

export const TARGET_SET_PROTOCOL = 'full ranking over all target items; one query per (test user, target item), the user\'s other target items excluded from its candidates; ties counted against the target';

/** Visits a score row (length T, item t at index t) for each user, in any order; the row may be reused. */
export type ScoreRows = (visit: (user: number, scores: Float32Array) => void) => void;

/** 0-based ranks of every (user, target) query; `targets[user]` holds the user's items (0-based, distinct). */
export function targetSetRanks(targets: readonly Int32Array[], T: number, forEachRow: ScoreRows): Int32Array {
  const ranks: number[] = [];
  // fullRank skips index 0 (padding), so scores sit at 1..T of a scratch row.
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
