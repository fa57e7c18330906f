/**
 * What every transfer task shares: graft patches (if the strategy uses them), add a new head, freeze what the
 * strategy freezes, train on users with early stopping on a validation score, restore the best weights, and
 * account for trained / total parameters and the patch size. The tasks (classify.ts, recommend.ts) supply the
 * examples, the loss and the validation score.
 */
import { encodeSafetensors } from '../io/safetensors.js';
import { NextItNet } from '../models/nextitnet.js';
import { INIT_STD } from '../nn/layers.js';
import { Adam, Parameter, Rng, Tensor, backward, scratchScope } from '../tensor/index.js';
import { parameterTensors } from '../train/checkpoint.js';
import { PatchInsertion, graftPatches } from './insertion.js';
import { ModelPatch } from './patch.js';
import { Strategy, applyStrategy, strategyUsesPatches } from './strategies.js';

/** How a task adapts the network: shared by every task type. */
export interface TransferOptions {
  /** The network to adapt: the pretrained model (loaded fresh for this run), or a random one for peter-zero. */
  model: NextItNet;
  strategy: Strategy;
  insertion: PatchInsertion;
  patchDim?: number;
  zeroInitUp?: boolean;
  epochs: number;
  batch: number;
  lr: number;
  patience: number;
  testFraction: number;
  seed: number;
}

/** What every task reports besides its own test metrics. */
export interface TransferAccounting {
  strategy: Strategy;
  insertion: PatchInsertion | null;
  trainedParams: number;
  totalParams: number;
  patchBytes: number;
  epochs: number;
  trainSeconds: number;
  /** The trained tensors (what a patch file stores). */
  trained: Parameter[];
  patches: ModelPatch[];
  head: Parameter[];
}

/** A task head of `rows` scored rows (classes or target items): score = user vector · weight[row] + bias[row]. */
export function taskHead(rows: number, dim: number, rng: Rng, options: { rowSparse?: boolean } = {}): Parameter[] {
  return [
    new Parameter('head.weight', rng.fillTruncatedNormal(new Float32Array(rows * dim), INIT_STD), [rows, dim], options),
    new Parameter('head.bias', new Float32Array(rows), [rows], options),
  ];
}

export interface TaskTraining {
  /** Example indices trained on; shuffled each epoch and cut into batches. */
  examples: number;
  /** The loss of a batch of example indices (a graph ending in a scalar). */
  loss: (batch: Int32Array) => Tensor;
  /** Validation score after an epoch: higher is better; the best epoch's weights are kept. */
  validate: () => number;
}

/**
 * Grafts the patches and head, applies the strategy and trains with early stopping. Returns everything but the
 * test metrics, which the task computes on the model as left (at its best validation epoch).
 */
export function trainTransfer(o: TransferOptions, headShape: { rows: number; rowSparse?: boolean },
  task: (head: Parameter[], rng: Rng) => TaskTraining): TransferAccounting {
  const started = process.hrtime.bigint();
  const rng = new Rng(o.seed);
  const { model } = o;
  const patches = strategyUsesPatches(o.strategy)
    ? graftPatches(model, o.insertion, rng, { bottleneck: o.patchDim, zeroInitUp: o.zeroInitUp })
    : [];
  const head = taskHead(headShape.rows, model.config.dim, rng, { rowSparse: headShape.rowSparse ?? false });
  const trained = applyStrategy(o.strategy, model, patches, head);
  const optimizer = new Adam(trained, { lr: o.lr });
  const { examples, loss, validate } = task(head, rng);

  let best = -Infinity;
  let bestValues = trained.map((p) => Float32Array.from(p.data));
  let stale = 0;
  let epochs = 0;
  const order = Int32Array.from({ length: examples }, (_, i) => i);
  for (let epoch = 1; epoch <= o.epochs && stale < o.patience; epoch++) {
    rng.shuffle(order);
    for (let start = 0; start < order.length; start += o.batch) {
      // Every tensor of the step dies with it, so the next step reuses their memory (see scratchScope).
      scratchScope(() => {
        backward(loss(order.subarray(start, start + o.batch)));
        optimizer.step();
      });
    }
    epochs = epoch;
    const score = validate();
    if (score > best) {
      best = score;
      bestValues = trained.map((p) => Float32Array.from(p.data));
      stale = 0;
    } else {
      stale++;
    }
  }
  trained.forEach((p, i) => p.data.set(bestValues[i]!));

  // The pretraining softmax (output table) is not part of the task network.
  const used = [...model.parameters().filter((p) => !p.name.startsWith('output.')), ...patches.flatMap((p) => p.parameters()), ...head];
  return {
    strategy: o.strategy,
    insertion: strategyUsesPatches(o.strategy) ? o.insertion : null,
    trainedParams: trained.reduce((n, p) => n + p.size, 0),
    totalParams: used.reduce((n, p) => n + p.size, 0),
    patchBytes: encodeSafetensors(parameterTensors(trained)).length,
    epochs,
    trainSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    trained,
    patches,
    head,
  };
}
