import { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDirAtomic } from '../io/atomic.js';
import { backend } from '../tensor/index.js';
import { loadDatasetFor, loadModelDir } from '../train/checkpoint.js';
import { experimentTable, runTransferExperiment } from '../transfer/experiment.js';
import { PATCH_INSERTIONS, PatchInsertion } from '../transfer/insertion.js';
import { STRATEGIES, Strategy } from '../transfer/strategies.js';
import { choiceListOption, integerListOption, integerOption, numberOption } from './options.js';

interface ExperimentFlags {
  model: string;
  data: string;
  task: string;
  label: string;
  bins?: number[];
  strategies: Strategy[];
  insertions: PatchInsertion[];
  seeds: number[];
  epochs: number;
  batch: number;
  lr: number;
  patience: number;
  testFraction: number;
  threads?: number;
  out: string;
}

export function experimentCommand(): Command {
  const experiment = new Command('experiment').description('Experiment grids that reproduce the paper\'s comparisons');
  experiment
    .command('transfer')
    .description('Every strategy (× insertion) × seed on one attribute task: results.json and a Markdown table')
    .requiredOption('--model <dir>', 'pretrained model directory')
    .requiredOption('--data <dir>', 'dataset with the label attribute')
    .requiredOption('--task <name>', 'task name')
    .requiredOption('--label <column>', 'attribute column to predict')
    .option('--bins <edges>', 'bucket a numeric attribute at these edges', integerListOption('bins'))
    .option('--strategies <list>', STRATEGIES.join(','), choiceListOption('strategies', STRATEGIES), [...STRATEGIES])
    .option('--insertions <list>', PATCH_INSERTIONS.join(','), choiceListOption('insertions', PATCH_INSERTIONS), ['serial-each-conv'])
    .option('--seeds <list>', 'seeds', integerListOption('seeds'), [1, 2, 3])
    .option('--epochs <n>', 'maximum epochs', integerOption('epochs'), 20)
    .option('--batch <n>', 'users per batch', integerOption('batch'), 64)
    .option('--lr <x>', 'Adam learning rate', numberOption('lr', { min: 0, exclusiveMin: true }), 1e-3)
    .option('--patience <n>', 'early-stopping patience', integerOption('patience'), 3)
    .option('--test-fraction <x>', 'fraction of labelled users held out', numberOption('test-fraction', { min: 0, max: 0.9, exclusiveMin: true }), 0.2)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .requiredOption('--out <dir>', 'directory for results.json and results.md')
    .action(async (f: ExperimentFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      const base = await loadModelDir(f.model);
      const dataset = await loadDatasetFor(base.config, f.model, f.data);
      const runs = await runTransferExperiment({
        dataset, datasetName: f.data, label: f.label, bins: f.bins ?? null, epochs: f.epochs, batch: f.batch, lr: f.lr,
        patience: f.patience, testFraction: f.testFraction, strategies: f.strategies, insertions: f.insertions,
        seeds: f.seeds, loadBase: async () => (await loadModelDir(f.model)).model,
        onRun: (r) => process.stderr.write(`${r.strategy}${r.insertion ? `/${r.insertion}` : ''} seed ${r.seed}: accuracy ${r.test.accuracy.toFixed(4)} (${r.trainSeconds.toFixed(1)} s)\n`),
      });
      const table = experimentTable(runs, dataset, f.task);
      await writeDirAtomic(f.out, async (tmp) => {
        await writeFile(join(tmp, 'results.json'), JSON.stringify({ task: f.task, label: f.label, model: f.model, data: f.data, runs }, null, 2) + '\n');
        await writeFile(join(tmp, 'results.md'), table);
      });
      process.stdout.write(table);
    });
  return experiment;
}
