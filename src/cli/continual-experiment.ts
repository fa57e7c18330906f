/** `graftrec experiment continual` (its flags and output; the runner is continual/experiment.ts). */
import { Command, InvalidArgumentError } from 'commander';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContinualTaskSpec, continualTable, runContinualExperiment } from '../continual/experiment.js';
import { FreeStart } from '../continual/learn.js';
import { writeDirAtomic } from '../io/atomic.js';
import { backend } from '../tensor/index.js';
import { createProgress } from '../train/progress.js';
import { collectProvenance } from '../train/provenance.js';
import { STRATEGIES, Strategy } from '../transfer/strategies.js';
import { withPruningOptions } from './continual.js';
import { choiceListOption, integerListOption, integerOption } from './options.js';
import { TaskFlags, tuningFromFlags, withTaskOptions } from './task-options.js';

/**
 * `gender,age@18/25/35/45/50/56,occupation,over35=age@35`: attribute columns in order, numeric ones with their bin
 * edges; `NAME=` names a task, so one attribute can serve several tasks (age in groups and "over 35").
 */
export function parseTaskList(value: string): ContinualTaskSpec[] {
  const tasks = value.split(',').map((part) => {
    const pieces = part.trim().split('=');
    const [named, spec] = pieces.length === 2 ? [pieces[0]!, pieces[1]!] : [null, pieces[0]!];
    const [label, bins] = spec.split('@') as [string, string | undefined];
    const edges = bins === undefined ? null : bins.split('/').map(Number);
    if (pieces.length > 2 || label === '' || named === '' || (edges && (edges.length === 0 || edges.some((e) => !Number.isFinite(e))))) {
      throw new InvalidArgumentError(`tasks: "${part}" is not [NAME=]LABEL or [NAME=]LABEL@EDGE/EDGE/…`);
    }
    return { name: named ?? label, label, bins: edges };
  });
  if (new Set(tasks.map((t) => t.name)).size !== tasks.length) throw new InvalidArgumentError('tasks: a task name appears twice');
  return tasks;
}

interface Flags extends TaskFlags {
  model: string;
  data: string;
  tasks: ContinualTaskSpec[];
  strategies: Strategy[];
  seeds: number[];
  keep: number;
  retrainEpochs: number;
  freeStart: FreeStart;
  threads?: number;
  out: string;
}

export function addContinualExperiment(experiment: Command): void {
  withPruningOptions(withTaskOptions(experiment
    .command('continual')
    .description('Conure against one-task-at-a-time transfer on a sequence of classification tasks: accuracy right after each task and after the last, bytes for all tasks, time')
    .requiredOption('--model <dir>', 'pretrained model directory (task 1: its next-item task)')
    .requiredOption('--data <dir>', 'its dataset, with the attributes to predict')
    .requiredOption('--tasks <list>', 'attribute columns in order, numeric ones with bin edges, NAME= to name a task: gender,age@18/25/35/45/50/56,occupation,over35=age@35', parseTaskList)
    .option('--strategies <list>', 'one-task-at-a-time strategies to compare', choiceListOption('strategies', STRATEGIES), ['peterrec', 'fine-all', 'fine-cls'])
    .option('--seeds <list>', 'seeds (mean ± std over them)', integerListOption('seeds'), [1])
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .requiredOption('--out <dir>', 'output directory: results.json, results.md and each seed\'s continual model')))
    .action(async (f: Flags) => {
      if (f.threads) backend().setThreads(f.threads);
      const provenance = await collectProvenance({
        seed: f.seeds, dataset: f.data,
        config: { model: f.model, tasks: f.tasks, strategies: f.strategies, keep: f.keep, retrainEpochs: f.retrainEpochs, freeStart: f.freeStart, ...tuningFromFlags(f) },
      });
      const o = {
        model: f.model, data: f.data, tasks: f.tasks, strategies: f.strategies, seeds: f.seeds, keep: f.keep, retrainEpochs: f.retrainEpochs, freeStart: f.freeStart,
        tuning: tuningFromFlags(f), progress: createProgress(process.stderr),
        onRun: (r: { method: string; seed: number; task: string; right: number; trainSeconds: number }) =>
          process.stderr.write(`${r.method} seed ${r.seed} ${r.task}: ${r.right.toFixed(4)} (${r.trainSeconds.toFixed(1)} s)\n`),
      };
      await writeDirAtomic(f.out, async (tmp) => {
        const result = await runContinualExperiment({ ...o, out: tmp });
        const table = continualTable(result, o);
        await writeFile(join(tmp, 'results.json'), JSON.stringify({ ...result, model: f.model, data: f.data, tasks: f.tasks, provenance }, null, 2) + '\n');
        await writeFile(join(tmp, 'results.md'), table);
        process.stdout.write(table);
      });
    });
}
