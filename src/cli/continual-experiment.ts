/** `graftrec experiment continual` (its flags and output; the runner is continual/experiment.ts). */
import { Command, InvalidArgumentError } from 'commander';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContinualRun, ContinualTaskSpec, continualTable, runContinualExperiment } from '../continual/experiment.js';
import { FreeStart } from '../continual/learn.js';
import { DataError } from '../errors.js';
import { writeDirAtomic } from '../io/atomic.js';
import { backend } from '../tensor/index.js';
import { createProgress } from '../train/progress.js';
import { collectProvenance } from '../train/provenance.js';
import { STRATEGIES, Strategy } from '../transfer/strategies.js';
import { withPruningOptions } from './continual.js';
import { choiceListOption, integerListOption, integerOption } from './options.js';
import { TaskFlags, tuningFromFlags, withFoldsOption, withTaskOptions } from './task-options.js';

/** A task of `--tasks` as written; the flags complete it (a recommend task's dataset, negatives, cut-offs). */
export type ListedTask = { name: string; label: string; bins: number[] | null } | { name: string; sourceDomain: string; targetDomain: string };

const TASK_FORMS = '[NAME=]LABEL, [NAME=]LABEL@EDGE/EDGE/… or [NAME=]recommend:SOURCE/TARGET';

/**
 * `gender,age@18/25/35/45/50/56,occupation,over35=age@35,recommend:sport/cloth`: attribute columns in order,
 * numeric ones with their bin edges, and cross-domain recommendation from one domain to cold-start users of another
 * (named after the target domain unless `NAME=` names it); `NAME=` names a task, so one attribute can serve several.
 */
export function parseTaskList(value: string): ListedTask[] {
  const tasks = value.split(',').map((part): ListedTask => {
    const pieces = part.trim().split('=');
    const [named, spec] = pieces.length === 2 ? [pieces[0]!, pieces[1]!] : [null, pieces[0]!];
    const bad = () => new InvalidArgumentError(`tasks: "${part}" is not ${TASK_FORMS}`);
    if (pieces.length > 2 || named === '') throw bad();
    if (spec.startsWith('recommend:')) {
      const domains = spec.slice('recommend:'.length).split('/');
      if (domains.length !== 2 || domains.some((d) => d === '') || domains[0] === domains[1]) throw bad();
      return { name: named ?? domains[1]!, sourceDomain: domains[0]!, targetDomain: domains[1]! };
    }
    const [label, bins] = spec.split('@') as [string, string | undefined];
    const edges = bins === undefined ? null : bins.split('/').map(Number);
    if (label === '' || (edges && (edges.length === 0 || edges.some((e) => !Number.isFinite(e))))) throw bad();
    return { name: named ?? label, label, bins: edges };
  });
  if (new Set(tasks.map((t) => t.name)).size !== tasks.length) throw new InvalidArgumentError('tasks: a task name appears twice');
  return tasks;
}

/** The listed tasks completed by the flags: classification reads --data, recommendation --cross-domain-data. */
function taskSpecs(f: Flags): ContinualTaskSpec[] {
  if (f.crossDomainData && f.tasks.every((t) => 'label' in t)) {
    throw new DataError('--cross-domain-data is the dataset of recommend:SOURCE/TARGET tasks, and --tasks lists none');
  }
  return f.tasks.map((t) => ('label' in t
    ? { name: t.name, spec: { type: 'classify', label: t.label, bins: t.bins }, data: f.data }
    : {
      name: t.name, data: f.crossDomainData ?? f.data,
      spec: { type: 'recommend', sourceDomain: t.sourceDomain, targetDomain: t.targetDomain, negatives: f.negatives, itemPairs: f.itemPairs, ks: f.k },
    }));
}

interface Flags extends TaskFlags {
  model: string;
  data: string;
  tasks: ListedTask[];
  crossDomainData?: string;
  strategies: Strategy[];
  seeds: number[];
  folds: number;
  keep: number;
  retrainEpochs: number;
  freeStart: FreeStart;
  threads?: number;
  out: string;
}

export function addContinualExperiment(experiment: Command): void {
  withFoldsOption(withPruningOptions(withTaskOptions(experiment
    .command('continual')
    .description('Conure against one-task-at-a-time transfer on a sequence of tasks: accuracy (or NDCG@10) right after each task and after the last, bytes for all tasks, time')
    .requiredOption('--model <dir>', 'pretrained model directory (task 1: its next-item task)')
    .requiredOption('--data <dir>', 'its dataset, with the attributes to predict')
    .requiredOption('--tasks <list>', 'tasks in order: attribute columns, numeric ones with bin edges, cross-domain recommendation as recommend:SOURCE/TARGET, NAME= to name a task: gender,age@18/25/35/45/50/56,over35=age@35,recommend:sport/cloth', parseTaskList)
    .option('--cross-domain-data <dir>', 'the recommend tasks\' dataset, holding both domains (default: --data)')
    .option('--strategies <list>', 'one-task-at-a-time strategies to compare', choiceListOption('strategies', STRATEGIES), ['peterrec', 'fine-all', 'fine-cls'])
    .option('--seeds <list>', 'seeds (mean ± std over them)', integerListOption('seeds'), [1])
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .requiredOption('--out <dir>', 'output directory: results.json, results.md and each seed\'s continual model'))))
    .action(async (f: Flags) => {
      if (f.threads) backend().setThreads(f.threads);
      const tasks = taskSpecs(f);
      const provenance = await collectProvenance({
        seed: f.seeds, dataset: f.data,
        config: { model: f.model, tasks, strategies: f.strategies, folds: f.folds, keep: f.keep, retrainEpochs: f.retrainEpochs, freeStart: f.freeStart, ...tuningFromFlags(f) },
      });
      const o = {
        model: f.model, data: f.data, tasks, strategies: f.strategies, seeds: f.seeds, folds: f.folds, keep: f.keep, retrainEpochs: f.retrainEpochs, freeStart: f.freeStart,
        tuning: tuningFromFlags(f), progress: createProgress(process.stderr),
        onRun: (r: ContinualRun) =>
          process.stderr.write(`${r.method} seed ${r.seed}${r.fold === undefined ? '' : ` fold ${r.fold}`} ${r.task}: ${r.metric} ${r.right.toFixed(4)} (${r.trainSeconds.toFixed(1)} s)\n`),
      };
      await writeDirAtomic(f.out, async (tmp) => {
        const result = await runContinualExperiment({ ...o, out: tmp });
        const table = continualTable(result, o);
        await writeFile(join(tmp, 'results.json'), JSON.stringify({ ...result, model: f.model, data: f.data, tasks: o.tasks, provenance }, null, 2) + '\n');
        await writeFile(join(tmp, 'results.md'), table);
        process.stdout.write(table);
      });
    });
}
