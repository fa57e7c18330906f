/**
 * A task's head: how it reads a user out of the (patched) network — which windows, which pooling, and for
 * attention pooling a learned query — and the table that scores its rows (classes or target items):
 * score = user vector · weight[row] + bias[row].
 */
import { NextItNet, encodeHistories } from '../models/nextitnet.js';
import { LAST_POSITION, UserReading } from '../models/user-vectors.js';
import { INIT_STD } from '../nn/layers.js';
import { Parameter, Rng, Tensor } from '../tensor/index.js';

export class TaskHead {
  constructor(readonly weight: Parameter, readonly bias: Parameter, readonly query: Parameter | null,
    readonly reading: UserReading) {}

  /** Every tensor the head owns (what a patch file stores of it). */
  parameters(): Parameter[] {
    return [this.weight, this.bias, ...(this.query ? [this.query] : [])];
  }

  get rows(): number {
    return this.weight.shape[0]!;
  }

  /** User vectors [histories, dim] with a graph, for training. */
  userVectors(model: NextItNet, histories: readonly Int32Array[]): Tensor {
    return model.userVectors(histories, this.reading, this.query);
  }

  /** User vectors without a graph, in batches. */
  encode(model: NextItNet, histories: readonly Int32Array[]): Float32Array {
    return encodeHistories(model, histories, this.reading, this.query);
  }
}

/** A new head of `rows` scored rows; attention pooling adds a query [dim, 1]. */
export function taskHead(rows: number, dim: number, rng: Rng,
  options: { rowSparse?: boolean; reading?: UserReading } = {}): TaskHead {
  const reading = options.reading ?? LAST_POSITION;
  const sparse = { rowSparse: options.rowSparse ?? false };
  return new TaskHead(
    new Parameter('head.weight', rng.fillTruncatedNormal(new Float32Array(rows * dim), INIT_STD), [rows, dim], sparse),
    new Parameter('head.bias', new Float32Array(rows), [rows], sparse),
    reading.pooling === 'attention'
      ? new Parameter('head.query', rng.fillTruncatedNormal(new Float32Array(dim), INIT_STD), [dim, 1])
      : null,
    reading,
  );
}
