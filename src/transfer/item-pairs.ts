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
import { cooccurrenceCounts, cooccurrenceWeight } from '../baselines/cooccurrence.js';
import { ExtraLogits, Parameter, Tensor, add, embedding, reshape, segmentWeightedSum } from '../tensor/index.js';

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
 * The training users' counts behind the starting weights (training only; a patch does not store them): per pair
 * how many users have both items, and per source / target row how many users have it.
 */
export interface ItemPairCounts {
  pairs: Float32Array;
  sourceUsers: Float32Array;
  targetUsers: Float32Array;
}

/** What training starts the table from: the pairs' co-occurrence weights and the counts behind them. */
export interface ItemPairStart {
  cooccurrence: Float32Array;
  counts: ItemPairCounts;
}

export const ITEM_PAIRS_PRIOR_SHRINK = 10;

/** A pair's co-occurrence weight (baselines/cooccurrence.ts) with the table's shrink. */
function pairWeight(c: number, ns: number, nt: number): number {
  return cooccurrenceWeight(c, ns, nt, ITEM_PAIRS_PRIOR_SHRINK);
}

/**
 * The table starts at one of these multiples of the co-occurrence weights, the one the validation users score
 * best with (chooseStartScale): the table starts where counting leaves off and training adds the user vector to
 * it. The multiple sets how far the counts outweigh the user vector — large, the pairs decide and the vector only
 * orders what they leave tied. From zero, the weights of pairs seen by one or two users stayed too small to matter
 * in the epochs a task runs (sport → cloth, seed 1, test NDCG@10 0.072–0.092 against co-occurrence's 0.149).
 */
export const ITEM_PAIRS_START_SCALES = [10, 30, 100, 300, 1000] as const;

/**
 * The pairs of the `users` (indices into `sources` / `targets`), with their co-occurrence weights and counts:
 * source items are rows 0..sourceRows-1 (base item indices), target items rows 0..numTargets-1.
 */
export function itemPairTable(sources: readonly Int32Array[], targets: readonly Int32Array[], users: Int32Array,
  sourceRows: number, numTargets: number): { support: ItemPairSupport; start: ItemPairStart } {
  for (const u of users) {
    for (const s of sources[u]!) if (s < 0 || s >= sourceRows) throw new RangeError(`source item ${s} outside 0..${sourceRows - 1}`);
  }
  const m = cooccurrenceCounts(sources, targets, users, numTargets);
  // Rows past the last source item any training user has: no pairs.
  const indptr = new Int32Array(sourceRows + 1).fill(m.targets.length);
  indptr.set(m.indptr);
  const cooccurrence = new Float32Array(m.targets.length);
  for (let s = 0; s + 1 < m.indptr.length; s++) {
    for (let j = m.indptr[s]!; j < m.indptr[s + 1]!; j++) {
      cooccurrence[j] = pairWeight(m.counts[j]!, m.sourceUsers[s]!, m.targetUsers[m.targets[j]!]!);
    }
  }
  const sourceUsers = new Float32Array(sourceRows);
  sourceUsers.set(m.sourceUsers);
  return {
    support: { indptr, targets: m.targets },
    start: { cooccurrence, counts: { pairs: m.counts, sourceUsers, targetUsers: m.targetUsers } },
  };
}

/** A history's extra logits: target columns (ascending), and per column the pairs (weight index, bag weight) summed. */
interface PairTerms {
  cols: Int32Array;
  /** Per column c: entries offsets[c] .. offsets[c+1] of pairs / weights / sources. */
  offsets: Int32Array;
  pairs: Int32Array;
  weights: Float32Array;
  /** The source row of each pair. */
  sources: Int32Array;
}

export class ItemPairs {
  /** The multiple of the co-occurrence weights the table started at (startAt); 1 when it has no start. */
  private startScale = 1;

  /**
   * @param start the training users' co-occurrences: given, the table can start from them (startAt) and training
   *   can score each training user with the pairs as they would be without that user (see extraLogits).
   */
  constructor(readonly support: ItemPairSupport, readonly weight: Parameter, readonly start: ItemPairStart | null = null) {
    if (weight.size !== support.targets.length) {
      throw new Error(`internal: ${weight.size} item-pair weights for ${support.targets.length} pairs`);
    }
  }

  /** Sets every weight to `scale` × its pair's co-occurrence weight. */
  startAt(scale: number): void {
    const start = this.requireStart();
    const w = this.weight.data;
    for (let j = 0; j < w.length; j++) w[j] = scale * start.cooccurrence[j]!;
    this.startScale = scale;
  }

  private requireStart(): ItemPairStart {
    if (!this.start) throw new Error('internal: this item-pair table has no training counts to start from');
    return this.start;
  }

  get sourceRows(): number {
    return this.support.indptr.length - 1;
  }

  /** The terms of each history (source items outside the table's rows have no pairs). */
  private terms(histories: readonly Int32Array[]): PairTerms[] {
    const bag = itemBagRows(histories, this.sourceRows);
    const { indptr, targets } = this.support;
    return histories.map((_, h) => {
      const byCol = new Map<number, [number, number, number][]>();
      for (let j = bag.offsets[h]!; j < bag.offsets[h + 1]!; j++) {
        const s = bag.indices[j]!;
        const w = bag.weights[j]!;
        for (let p = indptr[s]!; p < indptr[s + 1]!; p++) {
          const t = targets[p]!;
          let list = byCol.get(t);
          if (!list) byCol.set(t, (list = []));
          list.push([p, w, s]);
        }
      }
      const cols = Int32Array.from([...byCol.keys()].sort((a, b) => a - b));
      const offsets = new Int32Array(cols.length + 1);
      const pairs: number[] = [];
      const weights: number[] = [];
      const sources: number[] = [];
      cols.forEach((t, c) => {
        for (const [p, w, s] of byCol.get(t)!) {
          pairs.push(p);
          weights.push(w);
          sources.push(s);
        }
        offsets[c + 1] = pairs.length;
      });
      return { cols, offsets, pairs: Int32Array.from(pairs), weights: Float32Array.from(weights), sources: Int32Array.from(sources) };
    });
  }

  /**
   * The extra logits (with a graph into the table) for softmax rows that belong to histories: row r is scored for
   * history rowHistory[r]. Undefined when none of the histories has a pair.
   */
  extraLogits(histories: readonly Int32Array[], rowHistory: Int32Array, ownTargets?: readonly Int32Array[]): ExtraLogits | undefined {
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
    let perPair = embedding(this.weight, Int32Array.from(pairs), [pairs.length]);
    if (ownTargets) perPair = add(perPair, new Tensor(this.leaveOneOutOffsets(terms, ownTargets), perPair.shape));
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

  /**
   * Per term of each history, how its pair's starting weight changes when the history's own user is taken out of
   * the counts (the user has every source item of the history, and the targets ownTargets[h]). Why: the weights
   * start from the training users' co-occurrences, so on a training user every target item already has a pair
   * (the user's own), while a new user's target items mostly have none (three in four on sport → cloth). Trained
   * on its own pairs, the head learns that the pairs always know; trained on the pairs without the user, it meets
   * the pairs as a new user will, and the user vector learns to rank where they are silent.
   */
  private leaveOneOutOffsets(terms: readonly PairTerms[], ownTargets: readonly Int32Array[]): Float32Array {
    const { counts } = this.requireStart();
    if (ownTargets.length !== terms.length) throw new Error('internal: one target set per history');
    const out = new Float32Array(terms.reduce((n, t) => n + t.pairs.length, 0));
    let k = 0;
    terms.forEach((t, h) => {
      const own = new Set(ownTargets[h]!);
      for (let c = 0; c < t.cols.length; c++) {
        const target = t.cols[c]!;
        const mine = own.has(target) ? 1 : 0;
        const nt = counts.targetUsers[target]!;
        for (let j = t.offsets[c]!; j < t.offsets[c + 1]!; j++, k++) {
          const cst = counts.pairs[t.pairs[j]!]!;
          const ns = counts.sourceUsers[t.sources[j]!]!;
          out[k] = this.startScale * (pairWeight(cst - mine, ns - 1, nt - mine) - pairWeight(cst, ns, nt));
        }
      }
    });
    return out;
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
 * A new table over the support, at zero; with the training users' co-occurrences it can start from them
 * (ItemPairs.startAt). Row-sparse: a step touches only the pairs of its batch's users.
 */
export function newItemPairs(support: ItemPairSupport, start: ItemPairStart | null = null): ItemPairs {
  const n = support.targets.length;
  if (start && start.cooccurrence.length !== n) throw new Error(`internal: ${start.cooccurrence.length} starting weights for ${n} pairs`);
  return new ItemPairs(support, new Parameter(ITEM_PAIRS_WEIGHT, new Float32Array(n), [n, 1], { rowSparse: true }), start);
}

/**
 * Starts the table at each of ITEM_PAIRS_START_SCALES in turn, scores it with `validate` (higher is better), and
 * leaves it at the best; returns that multiple and its score.
 */
export function chooseStartScale(pairs: ItemPairs, validate: () => number): { scale: number; score: number } {
  let best = { scale: ITEM_PAIRS_START_SCALES[0] as number, score: -Infinity };
  for (const scale of ITEM_PAIRS_START_SCALES) {
    pairs.startAt(scale);
    const score = validate();
    if (score > best.score) best = { scale, score };
  }
  pairs.startAt(best.scale);
  return best;
}
