/**
 * One optimizer step: every loss term's forward, their weighted sum, one backward, (exchange gradients), (clip),
 * Adam. Shared by the trainer and the training benchmark, so the benchmark times exactly the work training does.
 *
 * Data-parallel: each rank's losses cover its shard of the batch (PreparedLoss.batchCount), each scaled by its
 * share of the batch's count, so summing the ranks' gradients — `exchange`, between backward and clipping — gives
 * the single-process batch mean's gradient, and the clip sees the global norm.
 */
import { TrainingError } from '../errors.js';
import { Adam, Parameter, Tensor, backward, clipGradNorm, scratchScope, weightedSum } from '../tensor/index.js';
import { LossName, PreparedLoss, hasLoss, shareOfBatch } from './objectives.js';

export interface StepOptions {
  clipNorm: number;
  /**
   * Sums the gradients of `params` and the given scalars over every rank, in place; returns the summed scalars.
   * Absent: a single process.
   */
  exchange?: (params: readonly Parameter[], scalars: number[]) => number[];
}

export interface TermResult {
  name: LossName;
  loss: number;
  count: number;
}

export interface StepResult {
  /** The weighted sum of the terms' losses. */
  loss: number;
  terms: TermResult[];
}

export function trainingStep(losses: readonly PreparedLoss[], optimizer: Adam, options: StepOptions): StepResult {
  // Every tensor of the step dies with it: the next step reuses their memory.
  return scratchScope(() => runStep(losses, optimizer, options));
}

function runStep(losses: readonly PreparedLoss[], optimizer: Adam, options: StepOptions): StepResult {
  // A rank whose shard holds nothing a term predicts (a short last batch) computes no loss and adds zeros.
  const tensors = losses.map((l) => (hasLoss(l) ? l.loss() : null));
  const terms = losses.map((l, i) => ({ name: l.name, loss: tensors[i]?.item() ?? 0, count: l.count }));
  for (const t of terms) {
    if (!Number.isFinite(t.loss)) {
      const which = terms.length > 1 ? `${t.name} loss` : 'loss';
      throw new TrainingError(`${which} became ${t.loss} at optimizer step ${optimizer.steps + 1}; lower --lr or set a gradient clip`);
    }
  }
  const shares = losses.map(shareOfBatch);
  const present = tensors.flatMap((t, i) => (t ? [{ t, weight: losses[i]!.weight * shares[i]! }] : []));
  let loss = 0;
  if (present.length > 0) {
    const total: Tensor = present.length === 1 && present[0]!.weight === 1 ? present[0]!.t : weightedSum(present.map((p) => p.t), present.map((p) => p.weight));
    loss = total.item();
    backward(total);
  }
  if (options.exchange) {
    // The terms' shares of their batch means and the weighted total travel with the gradients.
    const summed = options.exchange(optimizer.params, [...terms.map((t, i) => t.loss * shares[i]!), loss]);
    terms.forEach((t, i) => {
      t.loss = summed[i]!;
      t.count = losses[i]!.batchCount ?? t.count;
    });
    loss = summed[terms.length]!;
  }
  if (options.clipNorm > 0) {
    const norm = clipGradNorm(optimizer.params, options.clipNorm);
    if (!Number.isFinite(norm)) {
      throw new TrainingError(`gradient norm became ${norm} at optimizer step ${optimizer.steps + 1}; lower --lr`);
    }
  }
  optimizer.step();
  return { loss, terms };
}
