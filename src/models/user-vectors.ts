/**
 * How a user's history becomes one vector (what transfer tasks and serving read), shared by every backbone:
 *
 *   which positions  the most recent `maxLen` items (one window, the default), or up to `windows` windows of
 *                    `maxLen` items cut from the end of the history (0 = all of it), each run through the network
 *   how pooled       last:      the hidden state at the last position (the next-item representation)
 *                    mean:      the mean over every real (non-padding) position of every window
 *                    max:       the per-channel maximum over those positions
 *                    attention: a learned query q scores each position (h · q), softmax over the real positions,
 *                               the weighted sum of hidden states (the query is a task parameter, trained with it)
 *
 * A bag of items sees the whole history; a model reading only the last position of the last window sees the
 * most recent items through a summary tuned for next-item prediction. Pooling over all windows closes that gap.
 */
import { POOLINGS } from '../config/schema.js';
import { DataError } from '../errors.js';
import { Tensor, matmul, noGrad, segmentMax, segmentSoftmax, segmentWeightedSum } from '../tensor/index.js';

export { POOLINGS };
export type Pooling = (typeof POOLINGS)[number];

export interface UserReading {
  pooling: Pooling;
  /** How many maxLen-item windows from the end of the history are read; 0 = the whole history. */
  windows: number;
  /**
   * Whether the task adds a learned vector per item, averaged over the user's whole history, to the pooled
   * network output (the task head owns that table; see transfer/head.ts). Absent = no.
   */
  itemBag?: boolean;
}

export const LAST_POSITION: UserReading = { pooling: 'last', windows: 1 };

/** The model inputs for a batch of histories read as `reading` says, and how positions group into users. */
export interface UserInputs {
  /** [rows, length] item ids, left-padded (0). */
  ids: Int32Array;
  rows: number;
  /** Position offsets per user (users + 1): user u owns flattened positions offsets[u] .. offsets[u+1]-1. */
  offsets: Int32Array;
  /** 1 where the flattened position holds an input (item or mask token), 0 for padding. */
  valid: Uint8Array;
  /** The flattened position of each user's last input. */
  last: Int32Array;
}

/**
 * Cuts each history into windows of `room` items from the end (at most `reading.windows`, 0 = all) and lays
 * them out as rows of `length` inputs via `toInputs` (the backbone's own padding / mask-token convention).
 */
export function userInputs(histories: readonly Int32Array[], length: number, room: number, reading: UserReading,
  toInputs: (windows: readonly Int32Array[]) => Int32Array): UserInputs {
  if (!Number.isInteger(reading.windows) || reading.windows < 0) throw new DataError(`windows must be an integer ≥ 0 (0 = whole history), got ${reading.windows}`);
  const windows: Int32Array[] = [];
  const offsets = new Int32Array(histories.length + 1);
  histories.forEach((h, u) => {
    const mine: Int32Array[] = [];
    for (let end = h.length; end > 0 && (reading.windows === 0 || mine.length < reading.windows); end -= room) {
      mine.push(h.subarray(Math.max(0, end - room), end));
    }
    if (mine.length === 0) mine.push(h); // an empty history still gets one (all-padding) row
    windows.push(...mine.reverse());
    offsets[u + 1] = windows.length * length;
  });
  const ids = toInputs(windows);
  const valid = Uint8Array.from(ids, (id) => (id !== 0 ? 1 : 0));
  const last = Int32Array.from(histories, (_, u) => offsets[u + 1]! - 1);
  return { ids, rows: windows.length, offsets, valid, last };
}

/**
 * Rows of `dim` floats for many histories without a graph, `batchSize` histories per call of `encodeBatch`
 * (which returns [batch, dim]): bounded memory for any number of users.
 */
export function encodeInBatches(histories: readonly Int32Array[], dim: number,
  encodeBatch: (batch: readonly Int32Array[]) => Tensor, batchSize = 256): Float32Array {
  const out = new Float32Array(histories.length * dim);
  noGrad(() => {
    for (let start = 0; start < histories.length; start += batchSize) {
      out.set(encodeBatch(histories.slice(start, start + batchSize)).data, start * dim);
    }
  });
  return out;
}

/** Pools hidden rows [positions, C] into one vector per user: [users, C]. `query` [C, 1] is needed for attention. */
export function poolUsers(hidden: Tensor, inputs: UserInputs, pooling: Pooling, query: Tensor | null): Tensor {
  const { offsets, valid, last } = inputs;
  switch (pooling) {
    case 'last': {
      const w = new Float32Array(valid.length);
      for (const p of last) w[p] = 1;
      return segmentWeightedSum(hidden, new Tensor(w, [w.length]), offsets);
    }
    case 'mean': {
      const w = new Float32Array(valid.length);
      for (let u = 0; u + 1 < offsets.length; u++) {
        let n = 0;
        for (let p = offsets[u]!; p < offsets[u + 1]!; p++) n += valid[p]!;
        for (let p = offsets[u]!; p < offsets[u + 1]!; p++) if (valid[p]) w[p] = 1 / n;
      }
      return segmentWeightedSum(hidden, new Tensor(w, [w.length]), offsets);
    }
    case 'max':
      return segmentMax(hidden, valid, offsets);
    case 'attention': {
      if (!query) throw new DataError('attention pooling needs a query vector (a task parameter)');
      return segmentWeightedSum(hidden, segmentSoftmax(matmul(hidden, query), valid, offsets), offsets);
    }
  }
}

/**
 * Model input for scoring the next item after each history: the last `length` items (causal), or the last
 * `length - 1` items followed by the mask token (masked model: the next item is the masked position).
 */
export function predictionInputs(histories: readonly Int32Array[], length: number, maskToken: number | null): Int32Array {
  const inputs = new Int32Array(histories.length * length);
  const room = maskToken === null ? length : length - 1;
  histories.forEach((h, b) => {
    const tail = h.length > room ? h.subarray(h.length - room) : h;
    const rowEnd = b * length + room;
    inputs.set(tail, rowEnd - tail.length);
    if (maskToken !== null) inputs[rowEnd] = maskToken;
  });
  return inputs;
}
