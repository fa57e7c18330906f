/**
 * A task's head: how it reads a user out of the (patched) network — which windows, which pooling, and for
 * attention pooling a learned query — and the table that scores its rows (classes or target items):
 * score = user vector · weight[row] + bias[row].
 *
 * With an item bag the user vector is the pooled network output plus the average of a task-owned vector per
 * item over the user's whole history (binary bag, unit L2 norm, as the bag-of-items baseline weighs it). Then
 * the head is a logistic regression on the bag of items (factored through the user-vector space) and the
 * transferred representation at once: a frozen base that carries nothing for the task costs nothing, and what
 * it does carry adds to what the items alone tell. The table starts at zero, so training starts from the
 * network's reading alone.
 */
import { itemBagRows } from '../baselines/bag-of-items.js';
import { UserEncoder } from '../models/encoder.js';
import { LAST_POSITION, UserReading, encodeInBatches } from '../models/user-vectors.js';
import { INIT_STD } from '../nn/layers.js';
import { Parameter, Rng, Tensor, add, embedding, segmentWeightedSum } from '../tensor/index.js';

export class TaskHead {
  constructor(readonly weight: Parameter, readonly bias: Parameter, readonly query: Parameter | null,
    readonly reading: UserReading, readonly itemBag: Parameter | null = null) {}

  /** Every tensor the head owns (what a patch file stores of it). */
  parameters(): Parameter[] {
    return [this.weight, this.bias, ...(this.query ? [this.query] : []), ...(this.itemBag ? [this.itemBag] : [])];
  }

  get rows(): number {
    return this.weight.shape[0]!;
  }

  /** User vectors [histories, dim] with a graph, for training. */
  userVectors(model: UserEncoder, histories: readonly Int32Array[]): Tensor {
    const pooled = model.userVectors(histories, this.reading, this.query);
    if (!this.itemBag) return pooled;
    const bag = itemBagRows(histories, this.itemBag.shape[0]!);
    const perItem = embedding(this.itemBag, bag.indices, [bag.indices.length]);
    return add(pooled, segmentWeightedSum(perItem, new Tensor(bag.weights, [bag.weights.length]), bag.offsets));
  }

  /** User vectors without a graph, in batches. */
  encode(model: UserEncoder, histories: readonly Int32Array[]): Float32Array {
    return encodeInBatches(histories, model.config.dim, (batch) => this.userVectors(model, batch));
  }
}

/** A new head of `rows` scored rows; attention pooling adds a query [dim, 1], an item bag a table [inputRows, dim]. */
export function taskHead(rows: number, dim: number, rng: Rng,
  options: { rowSparse?: boolean; reading?: UserReading; inputRows?: number } = {}): TaskHead {
  const reading = options.reading ?? LAST_POSITION;
  const sparse = { rowSparse: options.rowSparse ?? false };
  const inputRows = options.inputRows ?? 0;
  if (reading.itemBag && inputRows <= 0) throw new Error('internal: an item-bag head needs the number of input rows');
  return new TaskHead(
    new Parameter('head.weight', rng.fillTruncatedNormal(new Float32Array(rows * dim), INIT_STD), [rows, dim], sparse),
    new Parameter('head.bias', new Float32Array(rows), [rows], sparse),
    reading.pooling === 'attention'
      ? new Parameter('head.query', rng.fillTruncatedNormal(new Float32Array(dim), INIT_STD), [dim, 1])
      : null,
    reading,
    reading.itemBag ? new Parameter('head.item_bag.weight', new Float32Array(inputRows * dim), [inputRows, dim], { rowSparse: true }) : null,
  );
}
