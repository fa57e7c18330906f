/**
 * The downstream task types behind one interface, so `finetune` and the experiment runner treat them alike:
 * what to train (a spec), how to train it, what its card says, and its headline metric.
 */
import { Dataset } from '../data/dataset.js';
import { ClassifyResult, finetuneClassifier } from './classify.js';
import { TaskCard, PATCH_FORMAT } from './patchfile.js';
import { RecommendResult, finetuneRecommender } from './recommend.js';
import { TransferOptions } from './task.js';

export const TASK_TYPES = ['classify', 'recommend'] as const;

export type TaskSpec =
  | { type: 'classify'; label: string; bins: number[] | null }
  | { type: 'recommend'; sourceDomain: string; targetDomain: string; negatives: number; ks: number[] };

export type TaskResult = ({ type: 'classify' } & ClassifyResult) | ({ type: 'recommend' } & RecommendResult);

export interface TaskData {
  task: string;
  dataset: Dataset;
  datasetName: string;
  /** The base model's item vocabulary (raw ids). */
  baseItems: readonly string[];
}

export function runTask(spec: TaskSpec, data: TaskData, o: TransferOptions): TaskResult {
  if (spec.type === 'classify') {
    return { type: 'classify', ...finetuneClassifier({ ...o, ...data, label: spec.label, bins: spec.bins }), task: data.task };
  }
  return {
    type: 'recommend',
    ...finetuneRecommender({
      ...o, ...data, sourceDomain: spec.sourceDomain, targetDomain: spec.targetDomain, negatives: spec.negatives, ks: spec.ks,
    }),
  };
}

/** The card stored beside a finished task's tensors. */
export function taskCardFor(spec: TaskSpec, r: TaskResult, fingerprint: string, patchDim: number | null): TaskCard {
  const common = {
    format: PATCH_FORMAT, version: 1 as const, task: r.task, strategy: r.strategy, insertion: r.insertion, patchDim,
    pooling: r.head.reading.pooling, windows: r.head.reading.windows,
    baseFingerprint: fingerprint, trainedParams: r.trainedParams, totalParams: r.totalParams,
  };
  if (r.type === 'classify' && spec.type === 'classify') {
    return { ...common, type: 'classify', label: spec.label, classes: r.classes, bins: spec.bins, test: { ...r.test } };
  }
  if (r.type === 'recommend') {
    return { ...common, type: 'recommend', sourceDomain: r.sourceDomain, targetDomain: r.targetDomain, targetItems: r.targetItems, test: { ...r.test } };
  }
  throw new Error('internal: task result does not match its spec');
}

/** The one number a progress line or a comparison quotes: accuracy, or NDCG@10 for recommendation. */
export function headline(r: TaskResult): { name: string; value: number } {
  return r.type === 'classify'
    ? { name: 'accuracy', value: r.test.accuracy }
    : { name: 'NDCG@10', value: Number(r.test['NDCG@10'] ?? NaN) };
}
