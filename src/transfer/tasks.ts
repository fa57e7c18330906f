/**
 * The downstream task types behind one interface, so `finetune` and the experiment runner treat them alike:
 * what to train (a spec), how to train it, its baselines, what its card says, and its headline metric.
 */
import { ClassificationBaselines } from '../baselines/classification.js';
import { RecommendationBaselines } from '../baselines/recommendation.js';
import { ModelConfig } from '../config/schema.js';
import { Dataset } from '../data/dataset.js';
import { ModelError } from '../errors.js';
import { UserEncoder } from '../models/encoder.js';
import { TaskHead } from './head.js';
import { ClassifyResult, classifyBaselines, classifyTestAccuracy, finetuneClassifier } from './classify.js';
import { TaskCard, PATCH_FORMAT, ValidationVerdict } from './patchfile.js';
import { RecommendResult, finetuneRecommender, recommendBaselines, recommendTestMetrics } from './recommend.js';
import { NEXT_ITEM_STRATEGIES, NextItemBaselines, NextItemResult, finetuneNextItem, nextItemBaselines } from './next-item.js';
import { Strategy } from './strategies.js';
import { TransferOptions } from './task.js';

export const TASK_TYPES = ['classify', 'recommend', 'next-item'] as const;

export type TaskSpec =
  | { type: 'classify'; label: string; bins: number[] | null }
  | { type: 'recommend'; sourceDomain: string; targetDomain: string; negatives: number; itemPairs: boolean; ks: number[] }
  | { type: 'next-item'; negatives: number; ks: number[]; newItems: number };

export type TaskResult = ({ type: 'classify' } & ClassifyResult) | ({ type: 'recommend' } & RecommendResult)
  | ({ type: 'next-item' } & NextItemResult);

export interface TaskData {
  task: string;
  dataset: Dataset;
  datasetName: string;
  /** The base model's item vocabulary (raw ids). */
  baseItems: readonly string[];
  /** The base model's shape (the next-item task's id-only baseline is a model of the same shape). */
  baseConfig: ModelConfig;
}

/** Throws when the strategy does not apply to the task type (zero-shot needs no head; fine-cls trains only one). */
export function checkStrategyFor(spec: TaskSpec, strategy: Strategy): void {
  if (spec.type === 'next-item' && !NEXT_ITEM_STRATEGIES.includes(strategy)) {
    throw new ModelError(`strategy ${strategy} trains only a task head, which next-item transfer has none of; choose from ${NEXT_ITEM_STRATEGIES.join(', ')}`);
  }
  if (spec.type !== 'next-item' && strategy === 'zero-shot') {
    throw new ModelError(`strategy zero-shot trains nothing, and a ${spec.type} task has a new head to train; it applies to --type next-item only`);
  }
}

export function runTask(spec: TaskSpec, data: TaskData, o: TransferOptions): TaskResult {
  checkStrategyFor(spec, o.strategy);
  if (spec.type === 'next-item') {
    return { type: 'next-item', ...finetuneNextItem({ ...data, ...o, negatives: spec.negatives, ks: spec.ks, newItems: spec.newItems }) };
  }
  if (spec.type === 'classify') {
    return { type: 'classify', ...finetuneClassifier({ ...data, ...o, label: spec.label, bins: spec.bins }), task: data.task };
  }
  return {
    type: 'recommend',
    ...finetuneRecommender({
      ...data, ...o, sourceDomain: spec.sourceDomain, targetDomain: spec.targetDomain, negatives: spec.negatives,
      itemPairs: spec.itemPairs, ks: spec.ks,
    }),
  };
}

/**
 * majority + logisticRegression (classify), popularity + cooccurrence (recommend), or popularity + an id model
 * trained on the target alone (next-item), each a metrics object.
 */
export type TaskBaselines = ClassificationBaselines | RecommendationBaselines | NextItemBaselines;

/**
 * The baselines on the test users that runTask with the same data, test fraction and seed evaluates on. The
 * next-item task's id model trains with the task's own settings (epochs, batch, patience, …).
 */
export function runTaskBaselines(spec: TaskSpec, data: TaskData,
  split: { testFraction: number; labelFraction: number; seed: number } & Partial<Omit<TransferOptions, 'model' | 'strategy'>>): TaskBaselines {
  if (spec.type === 'next-item') return nextItemBaselines({ ...data, ...split, negatives: spec.negatives, ks: spec.ks, newItems: spec.newItems });
  if (spec.type === 'classify') return classifyBaselines({ ...data, ...split, label: spec.label, bins: spec.bins });
  return recommendBaselines({ ...data, ...split, sourceDomain: spec.sourceDomain, targetDomain: spec.targetDomain, ks: spec.ks });
}

/** The card stored beside a finished task's tensors. */
export function taskCardFor(spec: TaskSpec, r: TaskResult, fingerprint: string, patchDim: number | null): TaskCard {
  const common = {
    format: PATCH_FORMAT, version: 1 as const, task: r.task, backbone: r.backbone, strategy: r.strategy, insertion: r.insertion, patchDim,
    baseFingerprint: fingerprint, trainedParams: r.trainedParams, totalParams: r.totalParams,
  };
  if (r.type === 'next-item') {
    return { ...common, type: 'next-item', targetItems: r.targetItems, test: { ...r.test } };
  }
  const reading = { pooling: r.head.reading.pooling, windows: r.head.reading.windows, itemBag: r.head.reading.itemBag ?? false };
  if (r.type === 'classify' && spec.type === 'classify') {
    return { ...common, ...reading, type: 'classify', label: spec.label, classes: r.classes, bins: spec.bins, test: { ...r.test } };
  }
  if (r.type === 'recommend') {
    return {
      ...common, ...reading, type: 'recommend', sourceDomain: r.sourceDomain, targetDomain: r.targetDomain, targetItems: r.targetItems,
      itemPairs: r.head.itemPairs !== null, test: { ...r.test },
    };
  }
  throw new Error('internal: task result does not match its spec');
}

/** The name of a task type's headline number: accuracy for classification, NDCG@10 for the ranking tasks. */
export function headlineName(type: TaskSpec['type']): string {
  return type === 'classify' ? 'accuracy' : 'NDCG@10';
}

/** The one number a progress line or a comparison quotes: accuracy, or NDCG@10 for recommendation. */
export function headline(r: TaskResult): { name: string; value: number } {
  return { name: headlineName(r.type), value: r.type === 'classify' ? r.test.accuracy : Number(r.test['NDCG@10'] ?? NaN) };
}

/** The score the task's settings are chosen by, on the validation users: log-loss (lower is better), or NDCG@10. */
export function validationHeadline(r: TaskResult): { name: string; value: number } {
  return r.type === 'classify' ? { name: 'log-loss', value: r.validation.logLoss } : { name: 'NDCG@10', value: r.validationScore };
}

/** Each baseline's headline number on the test users, named as a table row: accuracy, or NDCG@10. */
export function baselineHeadlines(b: TaskBaselines): [string, number][] {
  if ('majority' in b) return [['majority class', b.majority.accuracy], ['logistic regression on items', b.logisticRegression.accuracy]];
  const ndcg = (m: Record<string, unknown>) => Number(m['NDCG@10'] ?? NaN);
  if ('idModel' in b) return [['popularity', ndcg(b.popularity)], ['id model trained on the target alone', ndcg(b.idModel)]];
  return [['popularity', ndcg(b.popularity)], ['item co-occurrence', ndcg(b.cooccurrence)]];
}

/**
 * A trained head's headline number (as `headline` names it) on the test users that runTask with the same data and
 * split settings tests on: to score a task again later, e.g. from a model that has learned more tasks since.
 */
export function testHeadline(spec: Exclude<TaskSpec, { type: 'next-item' }>, data: TaskData,
  split: { testFraction: number; labelFraction: number; seed: number }, model: UserEncoder, head: TaskHead): number {
  if (spec.type === 'classify') return classifyTestAccuracy({ ...data, ...split, label: spec.label, bins: spec.bins }, model, head);
  return Number(recommendTestMetrics({ ...data, ...split, sourceDomain: spec.sourceDomain, targetDomain: spec.targetDomain, ks: [10] }, model, head)['NDCG@10'] ?? NaN);
}

/** One human-readable line of a task's baselines: accuracy, or HR@10 / NDCG@10, with the settings chosen on validation. */
export function describeBaselines(b: TaskBaselines): string {
  if ('idModel' in b) {
    return `popularity ${b.popularity['HR@10']!.toFixed(4)} / ${b.popularity['NDCG@10']!.toFixed(4)}, id model trained on the target alone ` +
      `${Number(b.idModel['HR@10']).toFixed(4)} / ${Number(b.idModel['NDCG@10']).toFixed(4)} HR@10 / NDCG@10`;
  }
  if ('majority' in b) {
    const lr = b.logisticRegression;
    return `majority class ${b.majority.accuracy.toFixed(4)}, logistic regression on items ${lr.accuracy.toFixed(4)} (${lr.weighting}, l2 ${lr.l2.toPrecision(2)})`;
  }
  const c = b.cooccurrence;
  return `popularity ${b.popularity['HR@10']!.toFixed(4)} / ${b.popularity['NDCG@10']!.toFixed(4)}, item co-occurrence ` +
    `${c['HR@10']!.toFixed(4)} / ${c['NDCG@10']!.toFixed(4)} (shrink ${c.shrink}, popularity weight ${c.popularityWeight}) HR@10 / NDCG@10`;
}

/**
 * How a trained task compares with its strongest baseline on the validation users (never the test users), so
 * the product can say when a patch is not worth serving: log-loss against the bag-of-items regression (classify),
 * NDCG@10 against the better of popularity and co-occurrence (recommend) or against the id model trained on the
 * target alone (next-item).
 */
export function validationVerdict(r: TaskResult, b: TaskBaselines): ValidationVerdict {
  if (r.type === 'classify') {
    if (!('majority' in b)) throw new Error('internal: classify task with other baselines');
    const baselineValue = b.logisticRegression.validation.logLoss;
    const task = r.validation.logLoss;
    return { metric: 'log-loss', task, baseline: 'logistic regression on items', baselineValue, ahead: task < baselineValue };
  }
  const task = r.validationScore;
  if ('idModel' in b) {
    const baselineValue = Number(b.idModel.validation['NDCG@10']);
    return { metric: 'NDCG@10', task, baseline: 'id model trained on the target alone', baselineValue, ahead: task > baselineValue };
  }
  if (!('cooccurrence' in b)) throw new Error('internal: recommend task with other baselines');
  const [baseline, baselineValue] = b.validation.cooccurrence >= b.validation.popularity
    ? ['item co-occurrence', b.validation.cooccurrence] : ['popularity', b.validation.popularity];
  return { metric: 'NDCG@10', task, baseline, baselineValue, ahead: task > baselineValue };
}

/** The verdict as one clause of a human-readable line. */
export function describeVerdict(v: ValidationVerdict): string {
  const numbers = `${v.metric} ${v.task.toFixed(4)} vs ${v.baselineValue.toFixed(4)}`;
  return v.ahead
    ? `on the validation users the task is ahead of the ${v.baseline} (${numbers})`
    : `on the validation users the task is NOT ahead of the ${v.baseline} (${numbers}): the baseline serves this task as well or better`;
}
