/**
 * Attribute prediction by transfer: the user's behaviour sequence goes through the (patched) pretrained network,
 * the hidden state at the last position is the user vector, and a new linear head scores the classes. Trains
 * what the strategy says, early-stops on validation accuracy, and reports test accuracy, macro-F1, AUC (binary)
 * and the majority-class accuracy on the same test users. The baselines (majority class, logistic regression on
 * the bag of items) are computed apart, once per split, since they do not depend on the strategy.
 */
import { ClassificationBaselines, classificationBaselines } from '../baselines/classification.js';
import { Dataset, userSequence } from '../data/dataset.js';
import { UserSplit, splitUsers } from '../data/split.js';
import { accuracy, binaryAuc, macroF1, majorityAccuracy } from '../eval/classification.js';
import { NextItNet, encodeHistories } from '../models/nextitnet.js';
import { Parameter, softmaxCrossEntropy } from '../tensor/index.js';
import { UserLabels, userLabels } from './labels.js';
import { TransferAccounting, TransferOptions, trainTransfer } from './task.js';

/** Which users a classification task has, with which labels, and how they are split. */
export interface ClassifyData {
  dataset: Dataset;
  datasetName: string;
  label: string;
  bins: number[] | null;
  testFraction: number;
  seed: number;
}

export interface ClassifyOptions extends TransferOptions, ClassifyData {}

export interface ClassificationMetrics {
  users: number;
  accuracy: number;
  macroF1: number;
  auc?: number;
  majorityAccuracy: number;
}

export interface ClassifyResult extends TransferAccounting {
  task: string;
  classes: string[];
  test: ClassificationMetrics;
}

/** Class probabilities [users, classes] without a graph. */
export function predictProbabilities(model: NextItNet, head: Parameter[], histories: readonly Int32Array[], classes: number): Float32Array {
  const out = new Float32Array(histories.length * classes);
  const dim = model.config.dim;
  const uv = encodeHistories(model, histories);
  for (let b = 0; b < histories.length; b++) {
    const logits = Array.from({ length: classes }, (_, c) => {
      let s = head[1]!.data[c]!;
      for (let k = 0; k < dim; k++) s += uv[b * dim + k]! * head[0]!.data[c * dim + k]!;
      return s;
    });
    const m = Math.max(...logits);
    const z = logits.reduce((acc, l) => acc + Math.exp(l - m), 0);
    logits.forEach((l, c) => (out[b * classes + c] = Math.exp(l - m) / z));
  }
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

function labelledSplit(o: ClassifyData): UserLabels & { split: UserSplit } {
  const { labels, classes } = userLabels(o.dataset, o.label, o.bins, o.datasetName);
  return { labels, classes, split: splitUsers(labels, o.testFraction, o.seed) };
}

/** Majority class and bag-of-items logistic regression on the test users the task with the same data and seed has. */
export function classifyBaselines(o: ClassifyData): ClassificationBaselines {
  const { labels, classes, split } = labelledSplit(o);
  return classificationBaselines(o.dataset, labels, split, classes.length);
}

export function finetuneClassifier(o: ClassifyOptions): ClassifyResult {
  const { labels, classes, split } = labelledSplit(o);
  const { model } = o;
  const histories = (users: Int32Array) => Array.from(users, (u) => userSequence(o.dataset, u));
  const labelsOf = (users: Int32Array) => Int32Array.from(users, (u) => labels[u]!);

  const accounting = trainTransfer(o, { rows: classes.length }, (head) => ({
    examples: split.train.length,
    loss: (batch) => {
      const users = Int32Array.from(batch, (i) => split.train[i]!);
      return softmaxCrossEntropy(model.userVectors(histories(users)), head[0]!, head[1]!, labelsOf(users), { ignoreIndex: -1 });
    },
    validate: () => accuracy(argmaxRows(predictProbabilities(model, head, histories(split.valid), classes.length), classes.length), labelsOf(split.valid)),
  }));

  const testLabels = labelsOf(split.test);
  const probs = predictProbabilities(model, accounting.head, histories(split.test), classes.length);
  const predicted = argmaxRows(probs, classes.length);
  const test: ClassificationMetrics = {
    users: split.test.length,
    accuracy: accuracy(predicted, testLabels),
    macroF1: macroF1(predicted, testLabels, classes.length),
    majorityAccuracy: majorityAccuracy(labelsOf(split.train), testLabels, classes.length),
  };
  if (classes.length === 2) test.auc = binaryAuc(Float32Array.from(testLabels, (_, i) => probs[i * 2 + 1]!), testLabels);
  return { ...accounting, task: o.label, classes, test };
}
