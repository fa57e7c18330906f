/**
 * `graftrec experiment continual`: a sequence of classification tasks learned after the pretraining task, by
 * Conure (one network, task after task) and by one-task-at-a-time transfer (peterrec, fine-all, fine-cls, each
 * from the pretrained base). For each task: its test accuracy right after it was learned and after the last task
 * (Conure's are measured again on the final model; the others never change), the bytes every task together
 * needs on disk (the base included), and the training time.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../data/dataset.js';
import { directoryBytes } from '../io/atomic.js';
import { argmaxRows, accuracy } from '../eval/classification.js';
import { meanStd } from '../eval/summary.js';
import { userSequence } from '../data/dataset.js';
import { Progress } from '../train/progress.js';
import { loadModelDir } from '../train/checkpoint.js';
import { classifyBaselines, classifySplit, predictProbabilities } from '../transfer/classify.js';
import { Strategy, defaultLearningRate } from '../transfer/strategies.js';
import { defaultInsertion } from '../transfer/insertion.js';
import { TransferOptions } from '../transfer/task.js';
import { runTask } from '../transfer/tasks.js';
import { FreeStart, addContinualTask, initContinual } from './learn.js';
import { continualTasks, loadContinual } from './store.js';

export interface ContinualTaskSpec {
  name: string;
  label: string;
  bins: number[] | null;
}

export interface ContinualExperimentOptions {
  model: string;
  data: string;
  /** Working directory: each seed's continual model is kept under it. */
  out: string;
  tasks: ContinualTaskSpec[];
  strategies: Strategy[];
  seeds: number[];
  keep: number;
  retrainEpochs: number;
  freeStart?: FreeStart;
  tuning: Pick<TransferOptions, 'reading' | 'epochs' | 'batch' | 'weightDecay' | 'dropout' | 'warmup' | 'patience' | 'testFraction' | 'labelFraction'>
    & { lr: number | null };
  progress: Progress;
  onRun?: (r: ContinualRun) => void;
}

export interface ContinualRun {
  method: 'conure' | Strategy | 'baseline: majority class' | 'baseline: logistic regression on items';
  seed: number;
  task: string;
  /** Test accuracy (classification) or HR@10 (the pretraining task) right after the task was learned. */
  right: number;
  /** The same after the last task was learned. */
  afterLast: number;
  /** Classification: the validation users' log-loss of the network the task answers with (what to choose settings by). */
  validationLogLoss?: number;
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
  const dataset = await loadDataset(o.data);
  const baseBytes = statSync(join(o.model, 'model.safetensors')).size;
  const note = (r: ContinualRun) => {
    runs.push(r);
    o.onRun?.(r);
  };
  for (const seed of o.seeds) {
    const dir = join(o.out, `conure-seed-${seed}`);
    const init = await initContinual({
      model: o.model, data: o.data, out: dir, force: true, keep: o.keep, retrainEpochs: o.retrainEpochs, task: 'next-item', seed, progress: o.progress,
    });
    const right = new Map<string, { value: number; seconds: number; validationLogLoss?: number }>();
    for (const t of o.tasks) {
      const s = await addContinualTask({
        continual: dir, data: o.data, task: t.name, spec: { type: 'classify', label: t.label, bins: t.bins }, keep: o.keep,
        retrainEpochs: o.retrainEpochs, freeStart: o.freeStart, seed, tuning: o.tuning, progress: o.progress,
      });
      right.set(t.name, { value: (s.test.final as { accuracy: number }).accuracy, seconds: s.trainSeconds, validationLogLoss: s.validation?.logLoss });
    }
    // After the last task: every task answered again by the final model, on its own test users.
    const final = await loadContinual(dir);
    const tasks = await continualTasks(final);
    note({ method: 'conure', seed, task: 'next-item', right: init.test.retrained['HR@10']!, afterLast: init.test.retrained['HR@10']!, trainSeconds: init.trainSeconds });
    for (const t of o.tasks) {
      const task = tasks.find((x) => x.card.task === t.name)!;
      const { labels, classes, split } = classifySplit({ dataset, datasetName: o.data, label: t.label, bins: t.bins, ...o.tuning, seed });
      const probs = predictProbabilities(task.model, task.head, Array.from(split.test, (u) => userSequence(dataset, u)));
      const afterLast = accuracy(argmaxRows(probs, classes.length), Int32Array.from(split.test, (u) => labels[u]!));
      const learned = right.get(t.name)!;
      note({ method: 'conure', seed, task: t.name, right: learned.value, afterLast, trainSeconds: learned.seconds, validationLogLoss: learned.validationLogLoss });
    }
    if (seed === o.seeds[0]) bytes.conure = directoryBytes(dir);
    for (const t of o.tasks) {
      const b = classifyBaselines({ dataset, datasetName: o.data, label: t.label, bins: t.bins, ...o.tuning, seed });
      for (const [method, value] of [['baseline: majority class', b.majority.accuracy], ['baseline: logistic regression on items', b.logisticRegression.accuracy]] as const) {
        note({ method, seed, task: t.name, right: value, afterLast: value, trainSeconds: 0 });
      }
    }

    for (const strategy of o.strategies) {
      let total = baseBytes;
      note({ method: strategy, seed, task: 'next-item', right: init.test.unpruned['HR@10']!, afterLast: init.test.unpruned['HR@10']!, trainSeconds: 0 });
      for (const t of o.tasks) {
        const base = await loadModelDir(o.model);
        const r = runTask({ type: 'classify', label: t.label, bins: t.bins }, {
          task: t.name, dataset, datasetName: o.data, baseItems: base.items, baseConfig: base.config.model,
        }, {
          model: base.model, strategy, insertion: defaultInsertion(base.model.backbone), ...o.tuning,
          lr: o.tuning.lr ?? defaultLearningRate(strategy), seed, progress: o.progress,
        });
        total += r.patchBytes;
        const value = (r.test as { accuracy: number }).accuracy;
        const validationLogLoss = r.type === 'classify' ? r.validation.logLoss : undefined;
        note({ method: strategy, seed, task: t.name, right: value, afterLast: value, trainSeconds: r.trainSeconds, validationLogLoss });
      }
      if (seed === o.seeds[0]) bytes[strategy] = total;
    }
  }
  return { runs, bytes };
}

/** Markdown: one row per method, per task "right after / after the last task", bytes and train time. */
export function continualTable(r: ContinualExperimentResult, o: Pick<ContinualExperimentOptions, 'tasks' | 'seeds' | 'keep'>): string {
  const tasks = ['next-item', ...o.tasks.map((t) => t.name)];
  const methods = [...new Set(r.runs.map((x) => x.method))];
  const header = `| method | ${tasks.map((t) => (t === 'next-item' ? 'next-item HR@10' : `${t} accuracy (right after / after last)`)).join(' | ')} | bytes, all tasks | train s |`;
  const lines = [header, `| --- | ${tasks.map(() => '---:').join(' | ')} | ---: | ---: |`];
  for (const m of methods) {
    const cells = tasks.map((t) => {
      const of = r.runs.filter((x) => x.method === m && x.task === t);
      if (of.length === 0) return '–';
      const right = meanStd(of.map((x) => x.right));
      return t === 'next-item' ? right : `${right} / ${meanStd(of.map((x) => x.afterLast))}`;
    });
    const seconds = r.runs.filter((x) => x.method === m).reduce((s, x) => s + x.trainSeconds, 0) / o.seeds.length;
    lines.push(`| ${m} | ${cells.join(' | ')} | ${r.bytes[m]?.toLocaleString('en-US') ?? '–'} | ${seconds.toFixed(0)} |`);
  }
  return `Tasks in order: ${tasks.join(' → ')}; seeds ${o.seeds.join(', ')}; Conure keeps ${o.keep} of the free weights per task.\n\n${lines.join('\n')}\n`
    + validationTable(r, o.tasks.map((t) => t.name), methods);
}

/** Markdown: the validation users' log-loss per method and task (what to choose settings by), where there is one. */
function validationTable(r: ContinualExperimentResult, tasks: string[], methods: string[]): string {
  const rows = methods.flatMap((m) => {
    const cells = tasks.map((t) => r.runs.filter((x) => x.method === m && x.task === t && x.validationLogLoss !== undefined).map((x) => x.validationLogLoss!));
    return cells.some((c) => c.length > 0) ? [`| ${m} | ${cells.map((c) => (c.length > 0 ? meanStd(c) : '–')).join(' | ')} |`] : [];
  });
  if (rows.length === 0) return '';
  return `\n| method | ${tasks.map((t) => `${t} valid. log-loss`).join(' | ')} |\n| --- | ${tasks.map(() => '---:').join(' | ')} |\n${rows.join('\n')}\n`;
}
