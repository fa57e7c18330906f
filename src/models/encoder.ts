/**
 * What every backbone (NextItNet, SASRec, BERT4Rec, GRU4Rec) offers the layers above — training, evaluation, transfer, serving talk
 * to this class only:
 *
 *   hidden(ids)        hidden states [B, L, dim] for left-padded item ids [B, L] (the one method a backbone writes)
 *   userVectors(...)   one vector per history, read as a UserReading says (shared here for every backbone)
 *   items              the item encoder (ids, text or both) the inputs and a tied softmax read (item-encoder.ts)
 *   outputWeight/Bias  the softmax over items that pretraining trains and next-item scoring reads
 *   blocks             the stacked blocks, in order; each has two sublayers (convolutions, or attention and
 *                      feed-forward) and takes patch hooks, which transfer/ grafts
 *   parameter names    the module tree's dotted names, which are the checkpoint keys
 */
import { Backbone, ModelConfig } from '../config/schema.js';
import { Module } from '../nn/module.js';
import { Parameter, Tensor, backend, noGrad, reshape } from '../tensor/index.js';
import type { ItemEncoder } from './item-encoder.js';
import { LAST_POSITION, UserReading, encodeInBatches, poolUsers, predictionInputs, userInputs } from './user-vectors.js';

/**
 * Where transfer learning may graft extra computation into a block (transfer/ builds these from model patches;
 * the backbone only calls them). Each hook returns the tensor that continues the block.
 */
export interface BlockPatchHooks {
  /**
   * After sublayer `index` of the block (0: the first convolution / the attention, 1: the second convolution /
   * the feed-forward network), given the sublayer's output and its input: what continues in its place.
   */
  afterSublayer?(index: 0 | 1, output: Tensor, input: Tensor): Tensor;
  /** Given the block input x and the residual branch F(x), returns the block output (default x + F(x)). */
  residual?(x: Tensor, branch: Tensor): Tensor;
}

/** The rows [start, end) of a global batch that this process holds (data-parallel training). */
export interface BatchShard {
  start: number;
  end: number;
}

/** A block of a backbone: a module with two patchable sublayers. */
export abstract class EncoderBlock extends Module {
  /** Model-patch hooks grafted by transfer learning; null for the plain backbone. */
  patches: BlockPatchHooks | null = null;
}

export abstract class UserEncoder extends Module {
  abstract readonly backbone: Backbone;
  readonly config: ModelConfig;
  abstract readonly blocks: readonly EncoderBlock[];
  /** Names of a block's two sublayers, as patch parameter names use them (`patch.3.attention.down.weight`). */
  abstract readonly sublayerNames: readonly [string, string];
  abstract readonly items: ItemEncoder;
  /** Output (softmax) item table [numItems + 1, dim] and its bias (null when the backbone has none). */
  abstract readonly outputWeight: Tensor;
  abstract readonly outputBias: Tensor | null;

  constructor(config: ModelConfig) {
    super('');
    this.config = config;
  }

  /** Hidden states [B, L, dim] for item ids [B, L], left-padded with 0; padding rows hold values nothing reads. */
  abstract hidden(ids: Int32Array, batch: number, length: number): Tensor;

  /** What fine-tuning the whole network trains: every parameter but a separate output table. */
  abstract backboneParameters(): Parameter[];

  /** The LayerNorm parameters a patched (peterrec) network trains beside its patches. */
  abstract patchedNormParameters(): Parameter[];

  /**
   * Called by the trainer before training step `step`: a backbone with random layers (dropout) starts that
   * step's masks from it, so a resumed run draws the masks an uninterrupted one would. `rows`: the rows of the
   * step's batch this process trains on (data-parallel), whose masks are then those rows of the whole batch's
   * masks. No-op by default.
   */
  startTrainingStep(step: number, rows?: BatchShard): void {}

  /**
   * A copy sharing every weight whose item encoder is `items` (these weights over a catalogue of `numItems`
   * items, ItemEncoder.withAddedItems): its config counts them, so a masked model's mask token stays the last row.
   */
  withItemEncoder(items: ItemEncoder, numItems: number): this {
    const copy = this.copySharing(new Map(), new Map([[this.items, items]]));
    // The copy's config only; this network keeps its own.
    return Object.assign(copy, { config: { ...this.config, numItems } });
  }

  /** Id of the mask token (masked objective only). */
  get maskToken(): number {
    return this.config.numItems + 1;
  }

  /** Hidden states flattened to [B*L, dim] rows, the shape the softmax heads take. */
  hiddenRows(ids: Int32Array, batch: number, length: number): Tensor {
    return reshape(this.hidden(ids, batch, length), [batch * length, this.config.dim]);
  }

  /**
   * User representations after each history, [histories.length, dim], differentiable so task heads can train on
   * them. By default the hidden state at the last position (causal) or at the trailing mask token (masked); other
   * readings pool over more positions and windows (see user-vectors.ts). `query` [dim, 1]: attention pooling only.
   */
  userVectors(histories: readonly Int32Array[], reading: UserReading = LAST_POSITION, query: Tensor | null = null): Tensor {
    const { maxLen } = this.config;
    const maskToken = this.config.objective === 'masked' ? this.maskToken : null;
    const room = maskToken === null ? maxLen : maxLen - 1;
    // Rows as long as the longest window here, not maxLen: every backbone's real positions are the same for any
    // amount of left padding, so the result is the same.
    let longest = 1;
    for (const h of histories) longest = Math.max(longest, Math.min(room, h.length));
    const length = longest + (maskToken === null ? 0 : 1);
    const inputs = userInputs(histories, length, room, reading, (windows) => predictionInputs(windows, length, maskToken));
    return poolUsers(this.hiddenRows(inputs.ids, inputs.rows, length), inputs, reading.pooling, query);
  }
}

/** Scoring happens in user chunks so users x items scores never exceed this many floats. */
const SCORE_CHUNK_FLOATS = 1 << 22;

/** model.userVectors for many histories, in batches, without a graph: [histories.length, dim]. */
export function encodeHistories(model: UserEncoder, histories: readonly Int32Array[], reading: UserReading = LAST_POSITION,
  query: Tensor | null = null, batchSize = 256): Float32Array {
  return encodeInBatches(histories, model.config.dim, (batch) => model.userVectors(batch, reading, query), batchSize);
}

/**
 * Calls visit(row, scores) for each user vector with its scores over every output row (index 0 = padding,
 * 1..numItems = items): score = user · output.weight[item] (+ output.bias[item]). The scores buffer is reused.
 */
export function forEachScoreRow(model: UserEncoder, userVectors: Float32Array,
  visit: (row: number, scores: Float32Array) => void): void {
  // Scores are never differentiated. Read with a graph, a text (or features) model's table would be encoded anew
  // on every call — every item, per served request — instead of coming from the item encoder's cache.
  forEachTableScoreRow(noGrad(() => model.outputWeight), model.outputBias, userVectors, visit);
}

/**
 * Calls visit(row, scores) for each user vector with its scores over every row of `table` [V, dim]:
 * score = user · table[v] (+ bias[v]) (the pretraining softmax, or a transfer task's head), in chunks of users
 * so users × rows scores never exceed SCORE_CHUNK_FLOATS. The scores buffer is reused.
 */
export function forEachTableScoreRow(table: Tensor, bias: Tensor | null, userVectors: Float32Array,
  visit: (row: number, scores: Float32Array) => void): void {
  const [V, dim] = table.shape as [number, number];
  const users = userVectors.length / dim;
  const chunk = Math.max(1, Math.min(users, Math.floor(SCORE_CHUNK_FLOATS / V)));
  const k = backend();
  const scores = new Float32Array(chunk * V);
  for (let start = 0; start < users; start += chunk) {
    const n = Math.min(chunk, users - start);
    const block = scores.subarray(0, n * V);
    k.gemm(false, true, n, V, dim, 1, userVectors.subarray(start * dim, (start + n) * dim), dim, table.data, dim, 0, block, V);
    if (bias) k.addRowVector(block, bias.data, n, V);
    for (let i = 0; i < n; i++) visit(start + i, block.subarray(i * V, (i + 1) * V));
  }
}

/** Per row of ids [batch, length]: how many leading positions are padding (id 0) = its first real position. */
export function leftPaddingLengths(ids: Int32Array, batch: number, length: number): Int32Array {
  const starts = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    let t = 0;
    while (t < length && ids[b * length + t] === 0) t++;
    starts[b] = t;
  }
  return starts;
}
