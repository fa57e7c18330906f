/**
 * One optimizer step of next-item / masked-item training: forward, loss, backward, (clip), Adam. Shared by the
 * trainer and the training benchmark, so the benchmark times exactly the work training does.
 */
import { TrainingError } from '../errors.js';
import { Batch } from '../data/batches.js';
import { NextItNet } from '../models/nextitnet.js';
import {
  Adam, Rng, backward, clipGradNorm, sampledSoftmaxCrossEntropy, scratchScope, softmaxCrossEntropy,
} from '../tensor/index.js';
import { NegativeSampler } from './sampler.js';

export interface StepOptions {
  /** 0 = full softmax; otherwise the number of shared sampled negatives. */
  negatives: number;
  sampler: NegativeSampler | null;
  rng: Rng;
  clipNorm: number;
}

export interface StepResult {
  loss: number;
  /** Positions that had a target (the "items" of items/s). */
  targets: number;
}

export function countTargets(batch: Batch): number {
  let n = 0;
  for (const t of batch.targets) if (t !== 0) n++;
  return n;
}

export function trainingStep(model: NextItNet, batch: Batch, optimizer: Adam, options: StepOptions): StepResult {
  // Every tensor of the step dies with it: the next step reuses their memory.
  return scratchScope(() => runStep(model, batch, optimizer, options));
}

function runStep(model: NextItNet, batch: Batch, optimizer: Adam, options: StepOptions): StepResult {
  const h = model.hiddenRows(batch.inputs, batch.size, batch.length);
  const loss = options.negatives > 0
    ? sampledSoftmaxCrossEntropy(h, model.outputWeight, model.outputBias, batch.targets,
      options.sampler!.sample(options.negatives, options.rng), { logQ: options.sampler!.logQ, ignoreIndex: 0 })
    : softmaxCrossEntropy(h, model.outputWeight, model.outputBias, batch.targets, { ignoreIndex: 0 });
  const value = loss.item();
  if (!Number.isFinite(value)) {
    throw new TrainingError(`loss became ${value} at optimizer step ${optimizer.steps + 1}; lower --lr or set a gradient clip`);
  }
  backward(loss);
  if (options.clipNorm > 0) {
    const norm = clipGradNorm(optimizer.params, options.clipNorm);
    if (!Number.isFinite(norm)) {
      throw new TrainingError(`gradient norm became ${norm} at optimizer step ${optimizer.steps + 1}; lower --lr`);
    }
  }
  optimizer.step();
  return { loss: value, targets: countTargets(batch) };
}
