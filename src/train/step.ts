/**
 * One optimizer step: every loss term's forward, their weighted sum, one backward, (clip), Adam. Shared by the
 * trainer and the training benchmark, so the benchmark times exactly the work training does.
 */
import { TrainingError } from '../errors.js';
import { Adam, backward, clipGradNorm, scratchScope, weightedSum } from '../tensor/index.js';
import { LossName, PreparedLoss } from './objectives.js';

export interface StepOptions {
  clipNorm: number;
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
  const tensors = losses.map((l) => l.loss());
  const terms = losses.map((l, i) => ({ name: l.name, loss: tensors[i]!.item(), count: l.count }));
  for (const t of terms) {
    if (!Number.isFinite(t.loss)) {
      const which = terms.length > 1 ? `${t.name} loss` : 'loss';
      throw new TrainingError(`${which} became ${t.loss} at optimizer step ${optimizer.steps + 1}; lower --lr or set a gradient clip`);
    }
  }
  const total = tensors.length === 1 && losses[0]!.weight === 1 ? tensors[0]! : weightedSum(tensors, losses.map((l) => l.weight));
  const loss = total.item();
  backward(total);
  if (options.clipNorm > 0) {
    const norm = clipGradNorm(optimizer.params, options.clipNorm);
    if (!Number.isFinite(norm)) {
      throw new TrainingError(`gradient norm became ${norm} at optimizer step ${optimizer.steps + 1}; lower --lr`);
    }
  }
  optimizer.step();
  return { loss, terms };
}
