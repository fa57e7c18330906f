/**
 * Attribute prediction by transfer: the user's behaviour sequence goes through the (patched) pretrained network,
 * the head reads a user vector out of it (last position by default, or pooled over positions and windows), and
 * a new linear head scores the classes. Trains what the strategy says, early-stops on validation log-loss, and
 * reports test accuracy, macro-F1, AUC (binary)
 * and the majority-class accuracy on the same test users. The baselines (majority class, logistic regression on
 * the bag of items) are computed apart, once per split, since they do not depend on the strategy.
 */
import { ClassificationBaselines, classificationBaselines } from '../baselines/classification.js';
import { Dataset, userSequence } from '../data/dataset.js';
import { UserSplit, ValidationFold, labelledSubset, splitUsers } from '../data/split.js';
import { ClassifierScores, accuracy, argmaxRows, classifierScores, logLoss, majorityAccuracy } from '../eval/classification.js';
import { UserEncoder } from '../models/encoder.js';
import { applyDropoutMask, dropoutMask, softmaxCrossEntropy } from '../tensor/index.js';
import { TaskHead } from './head.js';
import { UserLabels, userLabels } from './labels.js';
import { TransferAccounting, TransferOptions, trainTransfer } from './task.js';

/** Which users a classification task has, with which labels, and how they are split. */
export interface ClassifyData {
  dataset: Dataset;
  datasetName: string;
  label: string;
  bins: number[] | null;
  testFraction: number;
  /** Share of the training and validation users whose labels are used (fewer labels; test users unchanged). */
  labelFraction: number;
  /** Which of the non-test users validate (default: the first of ten folds). */
  fold?: ValidationFold;
  seed: number;
}

export interface ClassifyOptions extends TransferOptions, ClassifyData {}

export interface ClassificationMetrics extends ClassifierScores {
  users: number;
  /** Labelled users trained on (after --label-fraction). */
  trainUsers: number;
  majorityAccuracy: number;
}

export interface ClassifyResult extends TransferAccounting {
  task: string;
  classes: string[];
  /** Scores on the validation users at the kept epoch: what settings may be chosen by (never the test users). */
  validation: { users: number; accuracy: number; logLoss: number };
  test: ClassificationMetrics;
}

/** Class probabilities [users, classes] without a graph. */
export function predictProbabilities(model: UserEncoder, head: TaskHead, histories: readonly Int32Array[]): Float32Array {
  const classes = head.rows;
  const out = new Float32Array(histories.length * classes);
  const dim = model.config.dim;
  const uv = head.encode(model, histories);
  for (let b = 0; b < histories.length; b++) {
    const logits = Array.from({ length: classes }, (_, c) => {
      let s = head.bias.data[c]!;
      for (let k = 0; k < dim; k++) s += uv[b * dim + k]! * head.weight.data[c * dim + k]!;
      return s;
    });
    const m = Math.max(...logits);
    const z = logits.reduce((acc, l) => acc + Math.exp(l - m), 0);
    logits.forEach((l, c) => (out[b * classes + c] = Math.exp(l - m) / z));
  }
  return out;
}

/** The task's users, labels and split (the same for every strategy with the same data and seed). */
export function classifySplit(o: ClassifyData): UserLabels & { split: UserSplit } {
  const { labels, classes } = userLabels(o.dataset, o.label, o.bins, o.datasetName);
  return { labels, classes, split: labelledSubset(splitUsers(labels, o.testFraction, o.seed, o.fold), o.labelFraction) };
}

/** A trained head's accuracy on the test users the task with the same data and seed has. */
export function classifyTestAccuracy(o: ClassifyData, model: UserEncoder, head: TaskHead): number {
  const { labels, classes, split } = classifySplit(o);
  const probs = predictProbabilities(model, head, Array.from(split.test, (u) => userSequence(o.dataset, u)));
  return accuracy(argmaxRows(probs, classes.length), Int32Array.from(split.test, (u) => labels[u]!));
}

/** Majority class and bag-of-items logistic regression on the test users the task with the same data and seed has. */
export function classifyBaselines(o: ClassifyData): ClassificationBaselines {
  const { labels, classes, split } = classifySplit(o);
  return classificationBaselines(o.dataset, labels, split, classes.length);
}

export function finetuneClassifier(o: ClassifyOptions): ClassifyResult {
  const { labels, classes, split } = classifySplit(o);
  const { model } = o;
  const histories = (users: Int32Array) => Array.from(users, (u) => userSequence(o.dataset, u));
  const labelsOf = (users: Int32Array) => Int32Array.from(users, (u) => labels[u]!);
  const validLabels = labelsOf(split.valid);
  const labelled = (targets: Int32Array) => targets.reduce((n, l) => n + (l >= 0 ? 1 : 0), 0);
  const dim = model.config.dim;

  const accounting = trainTransfer(o, { rows: classes.length }, (head, rng) => ({
    examples: split.train.length,
    // A mean over the labelled users of the batch (of the shard, `rows`, scaled to the batch by batchCount).
    loss: (batch, rows) => {
      const all = Int32Array.from(batch, (i) => split.train[i]!);
      const mask = dropoutMask(all.length * dim, o.dropout, rng); // the whole batch's, on every rank
      const { start, end } = rows ?? { start: 0, end: all.length };
      const users = all.subarray(start, end);
      const targets = labelsOf(users);
      return {
        count: labelled(targets),
        batchCount: rows ? labelled(labelsOf(all)) : undefined,
        loss: () => softmaxCrossEntropy(applyDropoutMask(head.userVectors(model, histories(users)), mask, start * dim), head.weight, head.bias,
          targets, { ignoreIndex: -1 }),
      };
    },
    validate: () => -logLoss(predictProbabilities(model, head, histories(split.valid)), validLabels, classes.length),
  }));

  const validProbs = predictProbabilities(model, accounting.head, histories(split.valid));
  const validation = {
    users: split.valid.length,
    accuracy: accuracy(argmaxRows(validProbs, classes.length), validLabels),
    logLoss: logLoss(validProbs, validLabels, classes.length),
  };
  const testLabels = labelsOf(split.test);
  const probs = predictProbabilities(model, accounting.head, histories(split.test));
  const test: ClassificationMetrics = {
    users: split.test.length,
    trainUsers: split.train.length,
    ...classifierScores(probs, testLabels, classes.length),
    majorityAccuracy: majorityAccuracy(labelsOf(split.train), testLabels, classes.length),
  };
  return { ...accounting, task: o.label, classes, validation, test };
}
