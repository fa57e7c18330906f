/**
 * Attribute prediction by transfer: the user's behaviour sequence goes through the (patched) pretrained network,
 * the hidden state at the last position is the user vector, and a new linear head scores the classes. Trains
 * what the strategy says, early-stops on validation accuracy, and reports test accuracy, macro-F1, AUC (binary)
 * and the majority-class accuracy on the same test users.
 */
import { predictionInputs } from '../data/batches.js';
import { Dataset, userSequence } from '../data/dataset.js';
import { accuracy, binaryAuc, macroF1, majorityAccuracy } from '../eval/classification.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { NextItNet } from '../models/nextitnet.js';
import { INIT_STD } from '../nn/layers.js';
import {
  Adam, Parameter, Rng, Tensor, backward, embedding, noGrad, reshape, softmaxCrossEntropy,
} from '../tensor/index.js';
import { parameterTensors } from '../train/checkpoint.js';
import { PatchInsertion, graftPatches } from './insertion.js';
import { UserLabels, splitUsers, userLabels } from './labels.js';
import { ModelPatch } from './patch.js';
import { Strategy, applyStrategy, strategyUsesPatches } from './strategies.js';

export interface ClassifyOptions {
  /** The network to adapt: the pretrained model (loaded fresh for this run), or a random one for peter-zero. */
  model: NextItNet;
  dataset: Dataset;
  datasetName: string;
  label: string;
  bins: number[] | null;
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

export interface ClassifyResult {
  task: string;
  strategy: Strategy;
  insertion: PatchInsertion | null;
  classes: string[];
  trainedParams: number;
  totalParams: number;
  patchBytes: number;
  epochs: number;
  trainSeconds: number;
  test: { users: number; accuracy: number; macroF1: number; auc?: number; majorityAccuracy: number };
  /** The trained tensors (what a patch file stores). */
  trained: Parameter[];
  patches: ModelPatch[];
  head: Parameter[];
}

/** The new task head: class scores = user vector · head.weight[class] + head.bias[class]. */
export function classifierHead(classes: number, dim: number, rng: Rng): Parameter[] {
  return [
    new Parameter('head.weight', rng.fillTruncatedNormal(new Float32Array(classes * dim), INIT_STD), [classes, dim]),
    new Parameter('head.bias', new Float32Array(classes), [classes]),
  ];
}

/** Hidden state at each sequence's last position, [batch, dim], differentiable (a row gather). */
function userVectors(model: NextItNet, histories: readonly Int32Array[]): Tensor {
  const { maxLen, dim } = model.config;
  const maskToken = model.config.objective === 'masked' ? model.maskToken : null;
  const h = model.hidden(predictionInputs(histories, maxLen, maskToken), histories.length, maxLen);
  const last = Int32Array.from(histories, (_, b) => b * maxLen + maxLen - 1);
  return embedding(reshape(h, [histories.length * maxLen, dim]), last, [histories.length]);
}

/** Class probabilities [users, classes] without a graph. */
export function predictProbabilities(model: NextItNet, head: Parameter[], histories: readonly Int32Array[], classes: number): Float32Array {
  const out = new Float32Array(histories.length * classes);
  noGrad(() => {
    for (let start = 0; start < histories.length; start += 256) {
      const chunk = histories.slice(start, start + 256);
      const uv = userVectors(model, chunk).data;
      for (let b = 0; b < chunk.length; b++) {
        const logits = Array.from({ length: classes }, (_, c) => {
          let s = head[1]!.data[c]!;
          for (let k = 0; k < model.config.dim; k++) s += uv[b * model.config.dim + k]! * head[0]!.data[c * model.config.dim + k]!;
          return s;
        });
        const m = Math.max(...logits);
        const z = logits.reduce((acc, l) => acc + Math.exp(l - m), 0);
        logits.forEach((l, c) => (out[(start + b) * classes + c] = Math.exp(l - m) / z));
      }
    }
  });
  return out;
}

export function argmaxRows(probs: Float32Array, classes: number): Int32Array {
  const n = probs.length / classes;
  return Int32Array.from({ length: n }, (_, i) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c]! > probs[i * classes + best]!) best = c;
    return best;
  });
}

export function finetuneClassifier(o: ClassifyOptions): ClassifyResult {
  const started = process.hrtime.bigint();
  const { labels, classes }: UserLabels = userLabels(o.dataset, o.label, o.bins, o.datasetName);
  const split = splitUsers(labels, o.testFraction, o.seed);
  const rng = new Rng(o.seed);
  const { model } = o;
  const dim = model.config.dim;
  const patches = strategyUsesPatches(o.strategy)
    ? graftPatches(model, o.insertion, rng, { bottleneck: o.patchDim, zeroInitUp: o.zeroInitUp })
    : [];
  const head = classifierHead(classes.length, dim, rng);
  const trained = applyStrategy(o.strategy, model, patches, head);
  const optimizer = new Adam(trained, { lr: o.lr });
  const histories = (users: Int32Array) => Array.from(users, (u) => userSequence(o.dataset, u));
  const labelsOf = (users: Int32Array) => Int32Array.from(users, (u) => labels[u]!);

  let best = -1;
  let bestValues = trained.map((p) => Float32Array.from(p.data));
  let stale = 0;
  let epochs = 0;
  const order = Int32Array.from(split.train);
  for (let epoch = 1; epoch <= o.epochs && stale < o.patience; epoch++) {
    rng.shuffle(order);
    for (let start = 0; start < order.length; start += o.batch) {
      const users = order.subarray(start, start + o.batch);
      const loss = softmaxCrossEntropy(userVectors(model, histories(users)), head[0]!, head[1]!, labelsOf(users), { ignoreIndex: -1 });
      backward(loss);
      optimizer.step();
    }
    epochs = epoch;
    const valid = accuracy(argmaxRows(predictProbabilities(model, head, histories(split.valid), classes.length), classes.length), labelsOf(split.valid));
    if (valid > best) {
      best = valid;
      bestValues = trained.map((p) => Float32Array.from(p.data));
      stale = 0;
    } else {
      stale++;
    }
  }
  trained.forEach((p, i) => p.data.set(bestValues[i]!));

  const testLabels = labelsOf(split.test);
  const probs = predictProbabilities(model, head, histories(split.test), classes.length);
  const predicted = argmaxRows(probs, classes.length);
  const test: ClassifyResult['test'] = {
    users: split.test.length,
    accuracy: accuracy(predicted, testLabels),
    macroF1: macroF1(predicted, testLabels, classes.length),
    majorityAccuracy: majorityAccuracy(labelsOf(split.train), testLabels, classes.length),
  };
  if (classes.length === 2) test.auc = binaryAuc(Float32Array.from(testLabels, (_, i) => probs[i * 2 + 1]!), testLabels);
  // The pretraining softmax (output table) is not part of the task network.
  const used = [...model.parameters().filter((p) => !p.name.startsWith('output.')), ...patches.flatMap((p) => p.parameters()), ...head];
  return {
    task: o.label,
    strategy: o.strategy,
    insertion: strategyUsesPatches(o.strategy) ? o.insertion : null,
    classes,
    trainedParams: trained.reduce((n, p) => n + p.size, 0),
    totalParams: used.reduce((n, p) => n + p.size, 0),
    patchBytes: encodeSafetensors(parameterTensors(trained)).length,
    epochs,
    trainSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    test,
    trained,
    patches,
    head,
  };
}
