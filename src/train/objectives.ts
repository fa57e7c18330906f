/**
 * Pretraining objectives as a list of weighted loss terms that a training step adds up: next-item (causal),
 * masked-item, contrastive, or a sequence term plus a contrastive one, and optionally a held-out items term. Each term turns the batch's training
 * windows into its own inputs (data work: padding, masking, negatives, augmented views) and then into a loss.
 */
import { Objective, TrainConfig } from '../config/schema.js';
import { twoViews } from '../data/augment.js';
import { Batch, batchLength, causalBatch, maskedBatch, trainingWindows } from '../data/batches.js';
import { TrainingError } from '../errors.js';
import { UserEncoder } from '../models/encoder.js';
import { Rng, Tensor, sampledSoftmaxCrossEntropy, softmaxCrossEntropy } from '../tensor/index.js';
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
  loss(): Tensor;
}

export interface LossTerm {
  readonly name: LossName;
  readonly weight: number;
  prepare(windows: readonly Int32Array[], rng: Rng): PreparedLoss;
}

export interface SoftmaxOptions {
  /** 0 = full softmax; otherwise the number of shared sampled negatives (drawn from `sampler`). */
  negatives: number;
  sampler: NegativeSampler | null;
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

/** Softmax cross-entropy of the items a batch predicts (next items, or masked items); negatives drawn now. */
export function sequenceLoss(model: UserEncoder, batch: Batch, softmax: SoftmaxOptions, rng: Rng, weight = 1): PreparedLoss {
  const negatives = softmax.negatives > 0 ? softmax.sampler!.sample(softmax.negatives, rng) : null;
  return {
    name: model.config.objective === 'masked' ? 'masked-item' : 'next-item',
    weight,
    count: countTargets(batch),
    loss: () => {
      const h = model.hiddenRows(batch.inputs, batch.size, batch.length);
      return negatives
        ? sampledSoftmaxCrossEntropy(h, model.outputWeight, model.outputBias, batch.targets, negatives, { logQ: softmax.sampler!.logQ, ignoreIndex: 0 })
        : softmaxCrossEntropy(h, model.outputWeight, model.outputBias, batch.targets, { ignoreIndex: 0 });
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

function sequenceTerm(model: UserEncoder, softmax: SoftmaxOptions): LossTerm {
  return {
    name: model.config.objective === 'masked' ? 'masked-item' : 'next-item',
    weight: 1,
    prepare: (windows, rng) => sequenceLoss(model, sequenceBatch(model, windows, rng), softmax, rng),
  };
}

function contrastiveTerm(model: UserEncoder, head: ProjectionHead, train: TrainConfig, weight: number): LossTerm {
  const options = train.contrastive;
  return {
    name: 'contrastive',
    weight,
    prepare: (windows, rng) => {
      const views = twoViews(windows, options, rng);
      return { name: 'contrastive', weight, count: windows.length, loss: () => contrastiveLoss(model, head, views, options.temperature) };
    },
  };
}

function heldOutTerm(model: UserEncoder, train: TrainConfig): LossTerm {
  const { weight, rate } = train.heldOut;
  return {
    name: 'held-out-items',
    weight,
    prepare: (windows, rng) => {
      const split = holdOutItems(windows, rate, rng);
      return { name: 'held-out-items', weight, count: split.targets.length, loss: () => heldOutLoss(model, split) };
    },
  };
}

/**
 * The loss terms of `objective` for this model (whose network must match it) — the sequence term first, with
 * weight 1, then the contrastive term with weight λ (1 when it is the only term), then the held-out items term
 * when its weight is above 0. `head` is needed only when the objective is contrastive.
 */
export function lossTerms(objective: Objective, model: UserEncoder, head: ProjectionHead | null, train: TrainConfig,
  softmax: SoftmaxOptions): LossTerm[] {
  const terms: LossTerm[] = [];
  const contrastive = objective.endsWith('contrastive');
  if (objective !== 'contrastive') terms.push(sequenceTerm(model, softmax));
  if (contrastive) {
    if (!head) throw new TrainingError(`objective ${objective} needs a projection head`);
    terms.push(contrastiveTerm(model, head, train, objective === 'contrastive' ? 1 : train.contrastive.weight));
  }
  if (train.heldOut.weight > 0) terms.push(heldOutTerm(model, train));
  return terms;
}
