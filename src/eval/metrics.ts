/**
 * Ranking metrics as small pure functions over 0-based ranks (rank 0 = the target scored best).
 *   HR@k   = 1 if rank < k
 *   NDCG@k = 1 / log2(rank + 2) if rank < k (one relevant item, so IDCG = 1)
 *   MRR@k  = 1 / (rank + 1) if rank < k
 */
export type MetricName = 'HR' | 'NDCG' | 'MRR';

const METRICS: Record<MetricName, (rank: number, k: number) => number> = {
  HR: (r, k) => (r < k ? 1 : 0),
  NDCG: (r, k) => (r < k ? 1 / Math.log2(r + 2) : 0),
  MRR: (r, k) => (r < k ? 1 / (r + 1) : 0),
};

/** Mean of every metric at every cut-off, keyed like "HR@10". */
export function rankingMetrics(ranks: ArrayLike<number>, ks: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ks) {
    for (const [name, f] of Object.entries(METRICS)) {
      let s = 0;
      for (let i = 0; i < ranks.length; i++) s += f(ranks[i]!, k);
      out[`${name}@${k}`] = ranks.length > 0 ? s / ranks.length : 0;
    }
  }
  return out;
}

