import { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDirAtomic } from '../io/atomic.js';
import { backend } from '../tensor/index.js';
import { loadModelDir } from '../train/checkpoint.js';
import { experimentTable, runTransferExperiment } from '../transfer/experiment.js';
import { PATCH_INSERTIONS, PatchInsertion, checkInsertion, defaultInsertion } from '../transfer/insertion.js';
import { STRATEGIES, Strategy, strategyUsesPatches } from '../transfer/strategies.js';
import { describeBaselines } from '../transfer/tasks.js';
import { choiceListOption, integerListOption, integerOption } from './options.js';
import { TaskFlags, loadTaskDataset, taskSpecFromFlags, tuningFromFlags, withTaskOptions } from './task-options.js';

interface ExperimentFlags extends TaskFlags {
  model: string;
  data: string;
  task: string;
  strategies?: Strategy[];
  insertions?: PatchInsertion[];
  seeds: number[];
  threads?: number;
  out: string;
}

export function experimentCommand(): Command {
  const experiment = new Command('experiment').description('Experiment grids that reproduce the paper\'s comparisons');
  withTaskOptions(experiment
    .command('transfer')
    .description('Every strategy (× insertion) × seed on one task (classify or recommend): results.json and a Markdown table')
    .requiredOption('--model <dir>', 'pretrained model directory')
    .requiredOption('--data <dir>', 'the task\'s dataset (see graftrec finetune --help)')
    .requiredOption('--task <name>', 'task name'))
    .option('--strategies <list>', `${STRATEGIES.join(',')} (default: every strategy the model's backbone takes)`, choiceListOption('strategies', STRATEGIES))
    .option('--insertions <list>', `${PATCH_INSERTIONS.join(',')} (default: the backbone's default insertion)`, choiceListOption('insertions', PATCH_INSERTIONS))
    .option('--seeds <list>', 'seeds', integerListOption('seeds'), [1, 2, 3])
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .requiredOption('--out <dir>', 'directory for results.json and results.md')
    .action(async (f: ExperimentFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      const spec = taskSpecFromFlags(f);
      const base = await loadModelDir(f.model);
      const backbone = base.model.backbone;
      const patchable = defaultInsertion(backbone) !== null;
      const strategies = f.strategies ?? STRATEGIES.filter((s) => patchable || !strategyUsesPatches(s));
      // Refuse before hours of runs, not when the grid reaches the first patched strategy.
      if (strategies.some(strategyUsesPatches)) checkInsertion(defaultInsertion(backbone), backbone);
      const dataset = await loadTaskDataset(spec, base, f.model, f.data);
      const result = await runTransferExperiment({
        spec, task: f.task, dataset, datasetName: f.data, baseItems: base.items, ...tuningFromFlags(f),
        strategies, insertions: f.insertions ?? [defaultInsertion(base.model.backbone)],
        seeds: f.seeds, loadBase: async () => (await loadModelDir(f.model)).model,
        onBaselines: (b) => process.stderr.write(`baselines seed ${b.seed}: ${describeBaselines(b)}\n`),
        onRun: (r) => process.stderr.write(`${r.strategy}${r.insertion ? `/${r.insertion}` : ''} seed ${r.seed}: ${r.headline.name} ${r.headline.value.toFixed(4)} (${r.trainSeconds.toFixed(1)} s)\n`),
      });
      const table = experimentTable(result, dataset, f.task, spec);
      await writeDirAtomic(f.out, async (tmp) => {
        await writeFile(join(tmp, 'results.json'), JSON.stringify({ task: f.task, spec, model: f.model, data: f.data, ...result }, null, 2) + '\n');
        await writeFile(join(tmp, 'results.md'), table);
      });
      process.stdout.write(table);
    });
  return experiment;
}
