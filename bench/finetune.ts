/**
 * Fine-tuning step benchmark: one classification training step (forward through the patched or plain network,
 * head loss, backward, Adam on the trainable parameters) for each strategy, on random sequences, so the cost of
 * frozen parameters (none) and of the patches can be compared.
 */
import { createEncoder } from '../src/models/encoders.js';
import { Adam, Rng, backend, backward, scratchScope, softmaxCrossEntropy } from '../src/tensor/index.js';
import { taskHead } from '../src/transfer/head.js';
import { defaultInsertion, graftPatches } from '../src/transfer/insertion.js';
import { STRATEGIES, applyStrategy, strategyUsesPatches } from '../src/transfer/strategies.js';
import { ModelShapeOptions, benchModelConfig } from './model-shape.js';
import { Emit, timeIt } from './timing.js';

export interface FinetuneBenchOptions extends ModelShapeOptions {
  items: number;
  batch: number;
  classes: number;
  seconds: number;
}

export function runFinetuneBench(o: FinetuneBenchOptions, emit: Emit): void {
  const rng = new Rng(1);
  const config = benchModelConfig(o, o.items);
  const histories = Array.from({ length: o.batch }, () => Int32Array.from({ length: o.maxLen }, () => rng.int(1, o.items + 1)));
  const labels = Int32Array.from({ length: o.batch }, () => rng.int(0, o.classes));
  const results: Record<string, number> = {};
  for (const strategy of STRATEGIES) {
    const model = createEncoder(config, new Rng(2));
    const patches = strategyUsesPatches(strategy) ? graftPatches(model, defaultInsertion(model.backbone), new Rng(3)) : [];
    const head = taskHead(o.classes, config.dim, new Rng(4));
    const trainable = applyStrategy(strategy, model, patches, head.parameters());
    const optimizer = new Adam(trainable, { lr: 1e-3 });
    // In a scratch scope, as the fine-tuning loop (src/transfer/task.ts) runs its steps.
    const t = timeIt(() => scratchScope(() => {
      backward(softmaxCrossEntropy(head.userVectors(model, histories), head.weight, head.bias, labels, { ignoreIndex: -1 }));
      optimizer.step();
    }), { minSeconds: o.seconds });
    results[strategy] = t.medianMs;
    emit({
      bench: 'finetune', strategy, ...o, backbone: config.backbone, dim: config.dim, threads: backend().info().threads,
      trainedParams: trainable.reduce((n, p) => n + p.size, 0), msPerStep: Math.round(t.medianMs * 100) / 100,
    });
  }
  emit({ bench: 'finetune', fineAllOverPeterrec: Math.round((results['fine-all']! / results.peterrec!) * 100) / 100 });
}
