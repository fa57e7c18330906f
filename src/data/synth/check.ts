/**
 * Proof that the planted structure is there, without any neural model: on each user's last item of a domain
 * (leave-one-out), compare a popularity ranking with an oracle that ranks by the true generative next-item
 * probabilities. Both exclude the user's earlier items of that domain (the generator never repeats an item, so
 * history masking costs neither of them a hit). Ties count against the target (pessimistic rank).
 */
import type { SyntheticData } from './generate.js';
import { SequenceState } from './process.js';

export interface PlantedStructureReport {
  domain: string;
  k: number;
  /** Users evaluated: those with at least two items in the domain. */
  users: number;
  popularityHitRate: number;
  oracleHitRate: number;
}

export function evaluatePlantedStructure(data: SyntheticData, options: { k?: number; domain?: number } = {}): PlantedStructureReport {
  const k = options.k ?? 10;
  const d = options.domain ?? 0;
  const domain = data.domains[d];
  if (!domain) throw new RangeError(`domain ${d} does not exist (the data has ${data.domains.length})`);
  const evaluated = data.users.filter((u) => u.items[d]!.length >= 2);

  // Popularity is counted on everything but each user's held-out last item.
  const counts = new Float64Array(domain.numItems);
  for (const u of evaluated) {
    const seq = u.items[d]!;
    for (let j = 0; j < seq.length - 1; j++) counts[seq[j]!]!++;
  }
  const byPopularity = Int32Array.from({ length: domain.numItems }, (_, i) => i).sort((a, b) => counts[b]! - counts[a]! || a - b);

  let popularityHits = 0;
  let oracleHits = 0;
  for (const u of evaluated) {
    const seq = u.items[d]!;
    const target = seq[seq.length - 1]!;
    const state = new SequenceState(domain, u.traits.taste);
    for (let j = 0; j < seq.length - 1; j++) state.observe(seq[j]!);

    for (let r = 0, taken = 0; r < byPopularity.length && taken < k; r++) {
      const item = byPopularity[r]!;
      if (state.seen.has(item)) continue;
      if (item === target) popularityHits++;
      taken++;
    }

    const p = state.nextItemDistribution();
    const pTarget = p[target]!;
    let ahead = 0;
    for (let i = 0; i < p.length; i++) if (i !== target && p[i]! >= pTarget) ahead++;
    if (ahead < k) oracleHits++;
  }
  const n = evaluated.length;
  return {
    domain: domain.name,
    k,
    users: n,
    popularityHitRate: n ? popularityHits / n : 0,
    oracleHitRate: n ? oracleHits / n : 0,
  };
}
