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
import { TensorMap } from '../io/safetensors.js';
import { parameterTensors } from '../train/checkpoint.js';
import { ITEM_PAIRS_INDPTR, ITEM_PAIRS_LR_SCALE, ITEM_PAIRS_TARGETS, ItemPairStart, ItemPairSupport, ItemPairs, newItemPairs } from './item-pairs.js';

/**
 * The item-bag table (see head.ts) learns at this multiple of the task's learning rate. It starts at zero and
 * reaches the scores only through the head's weights, and each item's row gets a gradient only in the few
 * batches that hold a user with that item, so at the network's fine-tuning rate it barely moves in the epochs a
 * small labelled set allows: on ml-100k gender (validation and test alike) a frozen network plus the bag stayed
 * at the majority class with the shared rate and reached the bag-of-items regression's accuracy with 10×.
 */
export const ITEM_BAG_LR_SCALE = 10;

export class TaskHead {
  constructor(readonly weight: Parameter, readonly bias: Parameter, readonly query: Parameter | null,
    readonly reading: UserReading, readonly itemBag: Parameter | null = null,
    /** Cross-domain heads: a learned item-to-item table added to the target scores (see item-pairs.ts). */
    readonly itemPairs: ItemPairs | null = null) {}

  /** Every trained tensor the head owns (what a patch file stores of it, with the item pairs' support). */
  parameters(): Parameter[] {
    return [this.weight, this.bias, ...(this.query ? [this.query] : []), ...(this.itemBag ? [this.itemBag] : []),
      ...(this.itemPairs ? [this.itemPairs.weight] : [])];
  }

  /**
   * The tables that learn at a multiple of the task's rate (zero-initialised, row-sparse, reached through few
   * batches), each with its multiple.
   */
  sparseTables(): [Parameter, number][] {
    return [
      ...(this.itemBag ? [[this.itemBag, ITEM_BAG_LR_SCALE] as [Parameter, number]] : []),
      ...(this.itemPairs ? [[this.itemPairs.weight, ITEM_PAIRS_LR_SCALE] as [Parameter, number]] : []),
    ];
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

/**
 * A new head of `rows` scored rows; attention pooling adds a query [dim, 1], an item bag a table [inputRows, dim],
 * an item-pair support a zero weight per pair.
 */
export function taskHead(rows: number, dim: number, rng: Rng,
  options: { rowSparse?: boolean; reading?: UserReading; inputRows?: number; itemPairs?: { support: ItemPairSupport; start?: ItemPairStart } | null } = {}): TaskHead {
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
    options.itemPairs ? newItemPairs(options.itemPairs.support, options.itemPairs.start ?? null) : null,
  );
}

/** What a patch file stores: the trained tensors and, with an item-pair table, the table's int32 support. */
export function patchTensors(trained: Parameter[], head: TaskHead | null): TensorMap {
  const tensors = parameterTensors(trained);
  const support = head?.itemPairs?.support;
  if (support) {
    tensors.set(ITEM_PAIRS_INDPTR, { dtype: 'I32', shape: [support.indptr.length], data: support.indptr });
    tensors.set(ITEM_PAIRS_TARGETS, { dtype: 'I32', shape: [support.targets.length], data: support.targets });
  }
  return tensors;
}
