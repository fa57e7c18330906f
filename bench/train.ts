/**
 * Training-step benchmark: random full-length sequences through exactly the step training runs (forward,
 * softmax loss, backward, Adam), on a synthetic vocabulary. Prints sequences/s, ms per step and peak RSS.
 */
import { MODEL_DEFAULTS, ModelConfigSchema } from '../src/config/schema.js';
import { causalBatch } from '../src/data/batches.js';
import { NextItNet } from '../src/models/nextitnet.js';
import { Adam, Rng, backend } from '../src/tensor/index.js';
import { NegativeSampler } from '../src/train/sampler.js';
import { sequenceLoss } from '../src/train/objectives.js';
import { trainingStep } from '../src/train/step.js';
import { Emit } from './timing.js';

export interface TrainBenchOptions {
  items: number;
  dim: number;
  blocks: number;
  batch: number;
  maxLen: number;
  negatives: number;
  steps: number;
  warmup: number;
  seed: number;
}

export function runTrainBench(options: TrainBenchOptions, emit: Emit): void {
  const rng = new Rng(options.seed);
  const config = ModelConfigSchema.parse({
    ...MODEL_DEFAULTS, numItems: options.items, dim: options.dim, blocks: options.blocks, maxLen: options.maxLen,
  });
  const model = new NextItNet(config, rng);
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const counts = new Float64Array(options.items + 1).fill(1);
  const sampler = options.negatives > 0 ? new NegativeSampler(counts) : null;
  const makeBatch = () => causalBatch(Array.from({ length: options.batch },
    () => Int32Array.from({ length: options.maxLen + 1 }, () => rng.int(1, options.items + 1))), options.maxLen);
  const softmax = { negatives: options.negatives, sampler };
  const step = () => trainingStep([sequenceLoss(model, makeBatch(), softmax, rng)], optimizer, { clipNorm: 0 });
  for (let i = 0; i < options.warmup; i++) step();
  let stepNs = 0n;
  for (let i = 0; i < options.steps; i++) {
    // batch assembly (and drawing negatives) is data loading, not the step: keep it out of the timing
    const losses = [sequenceLoss(model, makeBatch(), softmax, rng)];
    const t0 = process.hrtime.bigint();
    trainingStep(losses, optimizer, { clipNorm: 0 });
    stepNs += process.hrtime.bigint() - t0;
  }
  const msPerStep = Number(stepNs) / 1e6 / options.steps;
  emit({
    bench: 'train', ...options, threads: backend().info().threads, gemmBackend: backend().info().gemmBackend,
    seqPerSec: Math.round((options.batch / msPerStep) * 1000 * 10) / 10,
    msPerStep: Math.round(msPerStep * 100) / 100,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  });
}
