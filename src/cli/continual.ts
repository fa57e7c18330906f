import { Command } from 'commander';
import { DEFAULT_FREE_START, DEFAULT_KEEP, DEFAULT_RETRAIN_EPOCHS, FREE_STARTS, FreeStart, addContinualTask, initContinual } from '../continual/learn.js';
import { DataError } from '../errors.js';
import { backend } from '../tensor/index.js';
import { createProgress } from '../train/progress.js';
import { describeBaselines, headlineName } from '../transfer/tasks.js';
import { choiceOption, integerOption, numberOption } from './options.js';
import { TaskFlags, taskSpecFromFlags, tuningFromFlags, withTaskOptions } from './task-options.js';

interface CommonFlags {
  keep: number;
  retrainEpochs: number;
  freeStart: FreeStart;
  seed: number;
  threads?: number;
  json?: boolean;
  quiet?: boolean;
}

/** What Conure keeps of each task and how long it retrains (also `experiment continual`'s). --keep is checked here
 * too, so a bad value is one line before anything is loaded. */
export function withPruningOptions(command: Command): Command {
  return command
    .option('--keep <x>', 'share of the free weights each task keeps (by magnitude, per weight matrix), in (0, 1)',
      numberOption('keep', { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }), DEFAULT_KEEP)
    .option('--retrain-epochs <n>', 'epochs of retraining after each pruning (the best on validation is kept)', integerOption('retrain-epochs', 0),
      DEFAULT_RETRAIN_EPOCHS)
    .option('--free-start <how>', 'where a new task\'s free weights start: fresh (a new network\'s initial values) or zero (the earlier tasks\' network as it is)',
      choiceOption('free-start', FREE_STARTS), DEFAULT_FREE_START);
}

function withCommon(command: Command): Command {
  return withPruningOptions(command)
    .option('--seed <n>', 'random seed', integerOption('seed', 0), 1)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--json', 'print the result as one JSON object')
    .option('--quiet', 'no progress output');
}

const fmt = (m: object, key: string) => Number((m as Record<string, unknown>)[key]).toFixed(4);

export function continualCommand(): Command {
  const continual = new Command('continual')
    .description('Conure: one network learns task after task, each keeping a share of its weights (no forgetting)');

  withCommon(continual.command('init')
    .description('Make a pretrained base the first task of a continual model: prune its blocks to --keep, retrain briefly, freeze')
    .requiredOption('--model <dir>', 'pretrained model directory')
    .requiredOption('--data <dir>', 'its pretraining dataset (same item vocabulary)')
    .requiredOption('--out <dir>', 'continual model directory to create')
    .option('--task <name>', 'name of the pretraining task', 'next-item')
    .option('--force', 'replace an existing directory at --out'))
    .action(async (f: CommonFlags & { model: string; data: string; out: string; task: string; force?: boolean }) => {
      if (f.threads) backend().setThreads(f.threads);
      const s = await initContinual({
        model: f.model, data: f.data, out: f.out, force: f.force ?? false, keep: f.keep, retrainEpochs: f.retrainEpochs, task: f.task,
        seed: f.seed, progress: createProgress(process.stderr, f.quiet ?? false),
      });
      if (f.json) return console.log(JSON.stringify(s));
      const t = s.test;
      console.log(`${s.task}: kept ${s.owned} weights (${f.keep} per matrix), ${s.free} free; test HR@10 / NDCG@10 unpruned ` +
        `${fmt(t.unpruned, 'HR@10')} / ${fmt(t.unpruned, 'NDCG@10')}, pruned ${fmt(t.pruned, 'HR@10')} / ${fmt(t.pruned, 'NDCG@10')}, ` +
        `retrained ${fmt(t.retrained, 'HR@10')} / ${fmt(t.retrained, 'NDCG@10')} (epoch ${s.retrainedEpoch}); written to ${s.out}`);
    });

  withCommon(withTaskOptions(continual.command('add')
    .description('Learn one more task (classify or recommend) into a continual model, in the freed weights; earlier tasks are unchanged')
    .requiredOption('--model <dir>', 'continual model directory (rewritten as a whole)')
    .requiredOption('--data <dir>', 'the task\'s dataset (see graftrec finetune --help)')
    .requiredOption('--task <name>', 'task name (unique within the model)')))
    .action(async (f: CommonFlags & TaskFlags & { model: string; data: string; task: string }) => {
      if (f.threads) backend().setThreads(f.threads);
      const spec = taskSpecFromFlags(f);
      if (spec.type === 'next-item') throw new DataError('continual add: --type next-item is not a continual task (the pretraining task is task 1); use classify or recommend');
      const s = await addContinualTask({
        continual: f.model, data: f.data, task: f.task, spec, keep: f.keep, retrainEpochs: f.retrainEpochs, freeStart: f.freeStart, seed: f.seed,
        tuning: tuningFromFlags(f), progress: createProgress(process.stderr, f.quiet ?? false),
      });
      if (f.json) return console.log(JSON.stringify(s));
      const metric = headlineName(s.type);
      console.log(`${s.task} (task ${s.index}): test ${metric} ${fmt(s.test.final, metric)} (before pruning ${fmt(s.test.unpruned, metric)}); ` +
        `baselines: ${describeBaselines(s.baselines)}; owns ${s.owned} weights, ${s.freeAfter} free; ${s.taskBytes} bytes on disk`);
    });

  return continual;
}
