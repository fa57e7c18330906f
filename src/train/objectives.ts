/**
 * Pretraining objectives as a list of weighted loss terms that a training step adds up: next-item (causal),
 * masked-item, contrastive, or a sequence term plus a contrastive one, and optionally a held-out items term. Each term turns the batch's training
 * windows into its own inputs (data work: padding, masking, negatives, augmented views) and then into a loss.
 */
import { Objective, SequenceLoss, TrainConfig } from '../config/schema.js';
import { twoViews } from '../data/augment.js';
import { Batch, batchLength, causalBatch, maskedBatch, trainingWindows } from '../data/batches.js';
import { TrainingError } from '../errors.js';
import { BatchShard, UserEncoder } from '../models/encoder.js';
import { Rng, Tensor, add, negativeBce, sampledSoftmaxCrossEntropy, softmaxCrossEntropy } from '../tensor/index.js';
import { ProjectionHead, contrastiveLoss } from './contrastive.js';
import { heldOutLoss, holdOutItems } from './held-out.js';
import { NegativeSampler } from './sampler.js';

export type LossName = 'next-item' | 'masked-item' | 'contrastive' | 'held-out-items';

/** One term's inputs for one batch, ready to be turned into its loss. */
export interface PreparedLoss {
  readonly name: LossName;
  readonly weight: number;
  /** What the loss is a mean over (predicted positions, or sequences), for averaging over an epoch. */
  readonly count: number;
  /**
   * When this loss covers only some rows of a global batch (data-parallel training): the count over the whole
   * batch. The step scales the loss by count / batchCount, so the ranks' gradients sum to the batch mean's.
   */
  readonly batchCount?: number;
  loss(): Tensor;
}

/** A loss's share of its global batch's mean: count / batchCount on a shard, 1 when it covers the whole batch. */
export function shareOfBatch(l: Pick<PreparedLoss, 'count' | 'batchCount'>): number {
  return l.batchCount === undefined ? 1 : l.count / Math.max(1, l.batchCount);
}

/** Whether a loss is computed here: a shard that holds nothing the loss is a mean over adds zeros instead. */
export function hasLoss(l: Pick<PreparedLoss, 'count' | 'batchCount'>): boolean {
  return l.count > 0 || l.batchCount === undefined;
}

export interface LossTerm {
  readonly name: LossName;
  readonly weight: number;
  /**
   * `rng`: the batch stream (masks, negatives). `rows`: this rank's shard of the batch. The whole batch is still
   * prepared, so every rank draws the same numbers as a single process would, and then the shard is cut out.
   */
  prepare(windows: readonly Int32Array[], rng: Rng, rows?: BatchShard): PreparedLoss;
}

export interface SoftmaxOptions {
  /** 0 = full softmax; otherwise the number of shared sampled negatives (drawn from `sampler`). */
  negatives: number;
  sampler: NegativeSampler | null;
  /** 'bce': one negative per position instead of a softmax (negatives must be 0); default 'softmax'. */
  loss?: SequenceLoss;
  /**
   * Items the loss leaves out: a per-row logit offset ([numItems + 1]; UNAVAILABLE_LOGIT on the items left out,
   * 0 elsewhere) added to the output bias, so they are neither targets' rivals nor negatives. An evaluation of
   * items that arrive after training (`unavailableItems`) trains as if they did not exist yet.
   */
  unavailable?: Tensor | null;
}

/** The logit offset of an item the loss leaves out: exp(-1e4) is 0 in float32, so it takes no probability and no gradient. */
const UNAVAILABLE_LOGIT = -1e4;

/** The `unavailable` offset for the items whose flag is set (index = item id). */
export function unavailableItems(flags: Uint8Array): Tensor {
  return Tensor.from(Float32Array.from(flags, (f) => (f ? UNAVAILABLE_LOGIT : 0)), [flags.length]);
}

/** The output bias the loss scores with: the model's, plus the offset of the items left out. */
function trainingBias(model: UserEncoder, softmax: SoftmaxOptions): Tensor | null {
  const bias = model.outputBias;
  if (!softmax.unavailable) return bias;
  return bias ? add(bias, softmax.unavailable) : softmax.unavailable;
}

/** How a sequence term scores its targets under these training settings; `counts` are the training items' counts. */
export function softmaxOptions(train: Pick<TrainConfig, 'negatives' | 'loss'>, counts: Float64Array): SoftmaxOptions {
  if (train.loss === 'bce' && train.negatives > 0) {
    throw new TrainingError(`the bce loss draws one negative per position; --negatives ${train.negatives} is for the softmax (leave it at 0)`);
  }
  return { negatives: train.negatives, sampler: train.negatives > 0 ? new NegativeSampler(counts) : null, loss: train.loss };
}

/** How many draws a position gets to find an item its window does not hold before it keeps the last one. */
const NEGATIVE_DRAWS = 10;

/**
 * One negative per position for the bce loss: uniform over the items 1..numItems, redrawn while it is an item of
 * the same batch row (the user's window), as SASRec draws items the user has not interacted with.
 */
export function positionNegatives(batch: Batch, numItems: number, rng: Rng): Int32Array {
  const negatives = new Int32Array(batch.targets.length);
  const held = new Set<number>();
  for (let b = 0; b < batch.size; b++) {
    held.clear();
    const row = b * batch.length;
    for (let j = row; j < row + batch.length; j++) {
      held.add(batch.inputs[j]!);
      held.add(batch.targets[j]!);
    }
    for (let j = row; j < row + batch.length; j++) {
      if (batch.targets[j] === 0) continue;
      let item = rng.int(1, numItems + 1);
      for (let draw = 1; draw < NEGATIVE_DRAWS && held.has(item); draw++) item = rng.int(1, numItems + 1);
      negatives[j] = item;
    }
  }
  return negatives;
}

/** The architecture an objective trains: its sequence objective, or the causal network for contrastive alone. */
export function networkObjective(objective: Objective): 'causal' | 'masked' {
  return objective.startsWith('masked') ? 'masked' : 'causal';
}

export function countTargets(batch: Batch): number {
  let n = 0;
  for (const t of batch.targets) if (t !== 0) n++;
  return n;
}

/**
 * The loss of the items a batch predicts (next items, or masked items): softmax cross-entropy, or binary
 * cross-entropy against one negative per position; negatives drawn now.
 */
export function sequenceLoss(model: UserEncoder, whole: Batch, softmax: SoftmaxOptions, rng: Rng, weight = 1, rows?: BatchShard): PreparedLoss {
  const name = model.config.objective === 'masked' ? 'masked-item' : 'next-item';
  const batch = rows ? batchRows(whole, rows) : whole;
  const count = countTargets(batch);
  const batchCount = rows ? countTargets(whole) : undefined;
  if (softmax.loss === 'bce') {
    const all = positionNegatives(whole, model.config.numItems, rng);
    const negatives = rows ? all.subarray(rows.start * whole.length, rows.end * whole.length) : all;
    return {
      name, weight, count, batchCount,
      loss: () => negativeBce(model.hiddenRows(batch.inputs, batch.size, batch.length), model.outputWeight, trainingBias(model, softmax),
        batch.targets, negatives, { ignoreIndex: 0 }),
    };
  }
  const negatives = softmax.negatives > 0 ? softmax.sampler!.sample(softmax.negatives, rng) : null;
  return {
    name,
    weight,
    count,
    batchCount,
    loss: () => {
      const h = model.hiddenRows(batch.inputs, batch.size, batch.length);
      const bias = trainingBias(model, softmax);
      return negatives
        ? sampledSoftmaxCrossEntropy(h, model.outputWeight, bias, batch.targets, negatives, { logQ: softmax.sampler!.logQ, ignoreIndex: 0 })
        : softmaxCrossEntropy(h, model.outputWeight, bias, batch.targets, { ignoreIndex: 0 });
    },
  };
}

/**
 * The training windows of a sequence objective and the positions each occupies in a batch row. Causal: windows of
 * max-len + 1 items, whose inputs are all but the last. Masked: every item is an input, and windows keep one
 * position free for the trailing mask token that next-item prediction appends.
 */
export function objectiveWindows(sequences: readonly Int32Array[], objective: 'causal' | 'masked', maxLen: number):
  { windows: Int32Array[]; lengths: Int32Array } {
  const masked = objective === 'masked';
  const windows = trainingWindows(sequences, masked ? maxLen - 1 : maxLen);
  return { windows, lengths: Int32Array.from(windows, (w) => (masked ? w.length : w.length - 1)) };
}

/**
 * The batch the model's sequence objective trains on these windows: next items, or masked items (drawn from rng).
 * Each batch is padded to its own longest window only (the model reads padding as absent).
 */
export function sequenceBatch(model: UserEncoder, windows: readonly Int32Array[], rng: Rng): Batch {
  const { maxLen, maskProbability, numItems, objective } = model.config;
  return objective === 'masked'
    ? maskedBatch(windows, batchLength(windows, 'masked', maxLen), { probability: maskProbability, maskToken: model.maskToken, numItems }, rng)
    : causalBatch(windows, batchLength(windows, 'causal', maxLen));
}

/** Rows [start, end) of a batch: the same padded length, so the shard's positions are the whole batch's. */
function batchRows(batch: Batch, rows: BatchShard): Batch {
  const { length } = batch;
  return {
    size: rows.end - rows.start, length,
    inputs: batch.inputs.subarray(rows.start * length, rows.end * length),
    targets: batch.targets.subarray(rows.start * length, rows.end * length),
  };
}

/** Terms whose loss couples a batch's rows (in-batch negatives, pooled users) are not split across ranks. */
function notSharded(name: LossName): TrainingError {
  return new TrainingError(`the ${name} loss cannot be split across ranks yet; distributed training takes the sequence objectives (causal, masked) only`);
}

/** Whether every loss term of this objective (and held-out setting) can train on a shard of each batch. */
export function shardable(objective: Objective, train: Pick<TrainConfig, 'heldOut'>): boolean {
  return !objective.includes('contrastive') && !(train.heldOut.weight > 0);
}

function sequenceTerm(model: UserEncoder, softmax: SoftmaxOptions): LossTerm {
  return {
    name: model.config.objective === 'masked' ? 'masked-item' : 'next-item',
    weight: 1,
    prepare: (windows, rng, rows) => sequenceLoss(model, sequenceBatch(model, windows, rng), softmax, rng, 1, rows),
  };
}

/** The auxiliary terms' views and held-out items have their own stream (see lossTerms), started from the run's seed. */
export function augmentRng(seed: number): Rng {
  return new Rng(seed + 3);
}

/**
 * The items of each window a sequence term reads as inputs: a causal window's last item is only a target. Views
 * made of these touch exactly the item rows the sequence term does, so the contrastive term adds to the rows'
 * next-item gradients instead of moving rows (through Adam's per-row normalisation, at full step size whatever λ)
 * that this step's next-item loss leaves alone.
 */
function sequenceInputs(windows: readonly Int32Array[], objective: Objective): readonly Int32Array[] {
  return objective === 'causal+contrastive' ? windows.map((w) => w.subarray(0, w.length - 1)) : windows;
}

function contrastiveTerm(model: UserEncoder, head: ProjectionHead, train: TrainConfig, weight: number, objective: Objective,
  augmentStream: Rng): LossTerm {
  const options = train.contrastive;
  return {
    name: 'contrastive',
    weight,
    prepare: (windows, _rng, rows) => {
      if (rows) throw notSharded('contrastive');
      const views = twoViews(sequenceInputs(windows, objective), options, augmentStream);
      return { name: 'contrastive', weight, count: windows.length, loss: () => contrastiveLoss(model, head, views, options.temperature) };
    },
  };
}

function heldOutTerm(model: UserEncoder, train: TrainConfig, augmentStream: Rng): LossTerm {
  const { weight, rate } = train.heldOut;
  return {
    name: 'held-out-items',
    weight,
    prepare: (windows, _rng, rows) => {
      if (rows) throw notSharded('held-out-items');
      const split = holdOutItems(windows, rate, augmentStream);
      return { name: 'held-out-items', weight, count: split.targets.length, loss: () => heldOutLoss(model, split) };
    },
  };
}

/**
 * The loss terms of `objective` for this model (whose network must match it) — the sequence term first, with
 * weight 1, then the contrastive term with weight λ (1 when it is the only term), then the held-out items term
 * when its weight is above 0. `head` is needed only when the objective is contrastive. The auxiliary terms draw
 * their views and held-out items from `augmentStream` (started by augmentRng), a stream of their own, so the
 * batches, their order and the sequence term's draws are those of the sequence objective alone: at weight 0 a
 * joint run trains exactly as the sequence objective alone would, and what a weight changes is what its term's
 * gradients do.
 */
export function lossTerms(objective: Objective, model: UserEncoder, head: ProjectionHead | null, train: TrainConfig,
  softmax: SoftmaxOptions, augmentStream: Rng): LossTerm[] {
  const terms: LossTerm[] = [];
  const contrastive = objective.endsWith('contrastive');
  if (objective !== 'contrastive') terms.push(sequenceTerm(model, softmax));
  if (contrastive) {
    if (!head) throw new TrainingError(`objective ${objective} needs a projection head`);
    terms.push(contrastiveTerm(model, head, train, objective === 'contrastive' ? 1 : train.contrastive.weight, objective, augmentStream));
  }
  if (train.heldOut.weight > 0) terms.push(heldOutTerm(model, train, augmentStream));
  return terms;
}
