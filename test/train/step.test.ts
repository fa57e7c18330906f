import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MODEL_DEFAULTS, ModelConfigSchema } from '../../src/config/schema.js';
import { causalBatch } from '../../src/data/batches.js';
import { NextItNet } from '../../src/models/nextitnet.js';
import { Adam, Rng, backend } from '../../src/tensor/index.js';
import { NegativeSampler } from '../../src/train/sampler.js';
import { sequenceLoss } from '../../src/train/objectives.js';
import { trainingStep } from '../../src/train/step.js';

/**
 * Parameters and losses after three real training steps (fused residual LayerNorm, pooled buffers, scratch scope),
 * at a batch of 32 x 40 positions and 64 channels: above the kernels' parallel thresholds, so two threads really
 * split the work.
 */
function threeSteps(): { losses: number[]; params: Float32Array[] } {
  const rng = new Rng(3);
  const items = 2000;
  const config = ModelConfigSchema.parse({ ...MODEL_DEFAULTS, numItems: items, dim: 64, blocks: 2, maxLen: 40 });
  const model = new NextItNet(config, rng);
  const optimizer = new Adam(model.parameters(), { lr: 1e-2 });
  const sampler = new NegativeSampler(new Float64Array(items + 1).fill(1));
  const losses: number[] = [];
  for (let s = 0; s < 3; s++) {
    const batch = causalBatch(Array.from({ length: 32 }, () => Int32Array.from({ length: 41 }, () => rng.int(1, items + 1))), 40);
    losses.push(trainingStep([sequenceLoss(model, batch, { negatives: 9, sampler }, rng)], optimizer, { clipNorm: 1 }).loss);
  }
  return { losses, params: model.parameters().map((p) => Float32Array.from(p.data)) };
}

describe('training step', () => {
  it('deterministic mode: three steps are bit-identical for 1 and 2 threads', () => {
    const k = backend();
    const { threads, deterministic } = k.info();
    k.setDeterministic(true);
    try {
      k.setThreads(1);
      const one = threeSteps();
      k.setThreads(2);
      k.resetPoolStats();
      const two = threeSteps();
      const { sharedTasks } = k.poolStats();
      assert.ok(sharedTasks > 1, `only ${sharedTasks} pool task(s) ran at 2 threads`);
      assert.deepEqual(two.losses, one.losses);
      one.params.forEach((p, i) => assert.deepEqual(two.params[i], p, `parameter ${i}`));
    } finally {
      k.setDeterministic(deterministic);
      k.setThreads(threads);
    }
  });
});
