/**
 * `graftrec experiment continual`: a sequence of tasks (classification, or cross-domain recommendation to
 * cold-start users) learned after the pretraining task, by Conure (one network, task after task) and by
 * one-task-at-a-time transfer (peterrec, fine-all, fine-cls, each from the pretrained base). For each task: its
 * headline test number (accuracy, or NDCG@10) right after it was learned and after the last task (Conure's are
 * measured again on the final model; the others never change), the same number for the task's baselines, the
 * validation score settings are chosen by, the bytes every task together needs on disk (the base included), and
 * the training time.
 */
import { cpSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Dataset, loadDataset } from '../data/dataset.js';
import { directoryBytes } from '../io/atomic.js';
import { foldTag, validationFolds } from '../data/split.js';
import { overSeeds, perSeedMeans, seedsPhrase } from '../eval/summary.js';
import { Progress } from '../train/progress.js';
import { loadModelDir } from '../train/checkpoint.js';
import { Strategy, defaultLearningRate } from '../transfer/strategies.js';
import { defaultInsertion } from '../transfer/insertion.js';
import { TransferOptions } from '../transfer/task.js';
import { TaskData, TaskSpec, baselineHeadlines, headline, headlineName, runTask, runTaskBaselines, testHeadline, validationHeadline } from '../transfer/tasks.js';
import { FreeStart, addContinualTask, initContinual } from './learn.js';
import { continualTasks, loadContinual } from './store.js';

/** One task of the sequence: its name, what it learns, and the dataset it learns from. */
export interface ContinualTaskSpec {
  name: string;
  spec: Exclude<TaskSpec, { type: 'next-item' }>;
  /** The base's own dataset for classification; for cross-domain recommendation one holding both domains. */
  data: string;
}

export interface ContinualExperimentOptions {
  model: string;
  /** The base's dataset: Conure's pretraining task retrains on it. */
  data: string;
  /** Working directory: each seed's continual model is kept under it. */
  out: string;
  tasks: ContinualTaskSpec[];
  strategies: Strategy[];
  seeds: number[];
  /**
   * Cross-validation over each seed's non-test users: every task (Conure's sequence, each strategy, the
   * baselines) once per fold, each fold validating in turn; a seed's numbers are the mean over its folds.
   * 1 (the default): the usual split.
   */
  folds?: number;
  keep: number;
  retrainEpochs: number;
  freeStart?: FreeStart;
  tuning: Pick<TransferOptions, 'reading' | 'epochs' | 'batch' | 'weightDecay' | 'dropout' | 'warmup' | 'patience' | 'testFraction' | 'labelFraction'>
    & { lr: number | null };
  progress: Progress;
  onRun?: (r: ContinualRun) => void;
}

export interface ContinualRun {
  /** 'conure', a strategy, or 'baseline: NAME'. */
  method: string;
  seed: number;
  /** With cross-validation (`folds`), the fold that validated this run (the next-item task has none). */
  fold?: number;
  task: string;
  /** What `right` and `afterLast` measure on the test users: HR@10 (the pretraining task), accuracy, or NDCG@10. */
  metric: string;
  /** The test number right after the task was learned. */
  right: number;
  /** The same after the last task was learned. */
  afterLast: number;
  /** The validation users' score of the network the task answers with (what to choose settings by): log-loss or NDCG@10. */
  validation?: { name: string; value: number };
  trainSeconds: number;
}

export interface ContinualExperimentResult {
  runs: ContinualRun[];
  /** Bytes on disk for the pretraining task and every task together, per method (seed 1's, or the first seed's). */
  bytes: Record<string, number>;
}

export async function runContinualExperiment(o: ContinualExperimentOptions): Promise<ContinualExperimentResult> {
  const runs: ContinualRun[] = [];
  const bytes: Record<string, number> = {};
  const datasets = new Map<string, Dataset>();
  for (const t of o.tasks) if (!datasets.has(t.data)) datasets.set(t.data, await loadDataset(t.data));
  const base = await loadModelDir(o.model);
  const taskData = (t: ContinualTaskSpec): TaskData => ({
    task: t.name, dataset: datasets.get(t.data)!, datasetName: t.data, baseItems: base.items, baseConfig: base.config.model,
  });
  const baseBytes = statSync(join(o.model, 'model.safetensors')).size;
  const note = (r: ContinualRun) => {
    runs.push(r);
    o.onRun?.(r);
  };
  const folds = validationFolds(o.folds ?? 1);
  for (const seed of o.seeds) {
    // Conure's first task (next items) does not depend on the fold: one init per seed, copied for each fold.
    const dirOf = (fold: (typeof folds)[number]) => join(o.out, fold ? `conure-seed-${seed}-fold-${fold.index}` : `conure-seed-${seed}`);
    const init = await initContinual({
      model: o.model, data: o.data, out: dirOf(folds[0]), force: true, keep: o.keep, retrainEpochs: o.retrainEpochs, task: 'next-item', seed, progress: o.progress,
    });
    for (const fold of folds.slice(1)) cpSync(dirOf(folds[0]), dirOf(fold), { recursive: true });
    const hr = init.test.retrained['HR@10']!;
    note({ method: 'conure', seed, task: 'next-item', metric: 'HR@10', right: hr, afterLast: hr, trainSeconds: init.trainSeconds });
    for (const fold of folds) {
      const tuning = { ...o.tuning, fold };
      const split = { ...tuning, lr: o.tuning.lr ?? undefined, seed };
      const dir = dirOf(fold);
      const learned = new Map<string, Pick<ContinualRun, 'metric' | 'right' | 'validation' | 'trainSeconds'>>();
      for (const t of o.tasks) {
        const s = await addContinualTask({
          continual: dir, data: t.data, task: t.name, spec: t.spec, keep: o.keep,
          retrainEpochs: o.retrainEpochs, freeStart: o.freeStart, seed, tuning, progress: o.progress,
        });
        learned.set(t.name, { metric: s.headline.name, right: s.headline.value, validation: s.validationHeadline, trainSeconds: s.trainSeconds });
      }
      // After the last task: every task answered again by the final model, on its own test users.
      const final = await continualTasks(await loadContinual(dir));
      for (const t of o.tasks) {
        const task = final.find((x) => x.card.task === t.name)!;
        note({ method: 'conure', seed, ...foldTag(fold), task: t.name, ...learned.get(t.name)!, afterLast: testHeadline(t.spec, taskData(t), split, task.model, task.head) });
      }
      if (seed === o.seeds[0] && fold === folds[0]) bytes.conure = directoryBytes(dir);
      for (const t of o.tasks) {
        const metric = headlineName(t.spec.type);
        for (const [name, value] of baselineHeadlines(runTaskBaselines(t.spec, taskData(t), split))) {
          note({ method: `baseline: ${name}`, seed, ...foldTag(fold), task: t.name, metric, right: value, afterLast: value, trainSeconds: 0 });
        }
      }
    }

    for (const strategy of o.strategies) {
      const unpruned = init.test.unpruned['HR@10']!;
      note({ method: strategy, seed, task: 'next-item', metric: 'HR@10', right: unpruned, afterLast: unpruned, trainSeconds: 0 });
      for (const fold of folds) {
        let total = baseBytes;
        for (const t of o.tasks) {
          const { model } = await loadModelDir(o.model); // a fresh copy: fine-tuning changes weights
          const r = runTask(t.spec, taskData(t), {
            model, strategy, insertion: defaultInsertion(model.backbone), ...o.tuning, fold,
            lr: o.tuning.lr ?? defaultLearningRate(strategy, t.spec.type), seed, progress: o.progress,
          });
          total += r.patchBytes;
          const h = headline(r);
          note({
            method: strategy, seed, ...foldTag(fold), task: t.name, metric: h.name, right: h.value, afterLast: h.value,
            trainSeconds: r.trainSeconds, validation: validationHeadline(r),
          });
        }
        if (seed === o.seeds[0] && fold === folds[0]) bytes[strategy] = total;
      }
    }
  }
  return { runs, bytes };
}

/** Markdown: one row per method, per task "right after / after last", bytes and train time; then the validation scores. */
export function continualTable(r: ContinualExperimentResult, o: Pick<ContinualExperimentOptions, 'tasks' | 'seeds' | 'folds' | 'keep'>): string {
  const tasks = ['next-item', ...o.tasks.map((t) => t.name)];
  const methods = [...new Set(r.runs.map((x) => x.method))];
  const metricOf = (t: string) => r.runs.find((x) => x.task === t)?.metric ?? '';
  const header = `| method | ${tasks.map((t) => (t === 'next-item' ? 'next-item HR@10' : `${t} ${metricOf(t)} (right after / after last)`)).join(' | ')} | bytes, all tasks | train s |`;
  const lines = [header, `| --- | ${tasks.map(() => '---:').join(' | ')} | ---: | ---: |`];
  for (const m of methods) {
    const cells = tasks.map((t) => {
      const of = r.runs.filter((x) => x.method === m && x.task === t);
      if (of.length === 0) return '–';
      const right = overSeeds(perSeedMeans(of, (x) => x.right));
      return t === 'next-item' ? right : `${right} / ${overSeeds(perSeedMeans(of, (x) => x.afterLast))}`;
    });
    const seconds = r.runs.filter((x) => x.method === m).reduce((s, x) => s + x.trainSeconds, 0) / o.seeds.length;
    lines.push(`| ${m} | ${cells.join(' | ')} | ${r.bytes[m]?.toLocaleString('en-US') ?? '–'} | ${seconds.toFixed(0)} |`);
  }
  const folds = o.folds ?? 1;
  const crossValidated = folds > 1 ? ` (each seed: the mean over ${folds} folds of its non-test users, each validating in turn; train s over all of a seed's folds)` : '';
  return `Tasks in order: ${tasks.join(' → ')}; ${seedsPhrase(o.seeds)}${crossValidated}; Conure keeps ${o.keep} of the free weights per task.\n\n${lines.join('\n')}\n`
    + `\nBytes, all tasks (seed ${o.seeds[0]}${folds > 1 ? ', fold 0' : ''}): Conure's directory as a whole; a strategy's, the base's weights plus each task's patch tensors.\n`
    + validationTable(r, o.tasks.map((t) => t.name), methods);
}

/** Markdown: the validation users' score per method and task (what to choose settings by), where there is one. */
function validationTable(r: ContinualExperimentResult, tasks: string[], methods: string[]): string {
  const scored = (m: string, t: string) => r.runs.filter((x) => x.method === m && x.task === t && x.validation !== undefined);
  const rows = methods.flatMap((m) => {
    const cells = tasks.map((t) => perSeedMeans(scored(m, t), (x) => x.validation!.value));
    return cells.some((c) => c.length > 0) ? [`| ${m} | ${cells.map((c) => (c.length > 0 ? overSeeds(c) : '–')).join(' | ')} |`] : [];
  });
  if (rows.length === 0) return '';
  const nameOf = (t: string) => r.runs.find((x) => x.task === t && x.validation !== undefined)?.validation!.name ?? 'score';
  return `\n| method | ${tasks.map((t) => `${t} valid. ${nameOf(t)}`).join(' | ')} |\n| --- | ${tasks.map(() => '---:').join(' | ')} |\n${rows.join('\n')}\n`;
}
