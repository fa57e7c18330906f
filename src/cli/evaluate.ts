import { Command } from 'commander';
import { itemCounts, leaveOneOutSplit } from '../data/split.js';
import { evaluateNextItem } from '../eval/evaluate.js';
import { backend } from '../tensor/index.js';
import { loadDatasetFor, loadModelDir } from '../train/checkpoint.js';
import { choiceOption, integerListOption, integerOption } from './options.js';

interface EvaluateFlags {
  model: string;
  data: string;
  split: 'test' | 'valid';
  k: number[];
  maskHistory?: boolean;
  sampled?: number;
  seed: number;
  threads?: number;
  json?: boolean;
}

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description('Next-item metrics of a model on the leave-one-out split, with the popularity baseline on the same users')
    .requiredOption('--model <dir>', 'model directory from `graftrec pretrain`')
    .requiredOption('--data <dir>', 'the dataset the model was trained on')
    .option('--split <name>', 'test (last item) or valid (second-last item)', choiceOption('split', ['test', 'valid'] as const), 'test')
    .option('--k <list>', 'cut-offs', integerListOption('k'), [5, 10, 20])
    .option('--mask-history', 'remove items already in the user\'s history from the candidates (default: keep them)')
    .option('--sampled <n>', 'rank among the target and N random negatives instead of all items (paper comparison only)', integerOption('sampled'))
    .option('--seed <n>', 'seed for --sampled negatives', integerOption('seed', 0), 1)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--json', 'print one JSON object')
    .action(async (f: EvaluateFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      const { model, config } = await loadModelDir(f.model);
      const ds = await loadDatasetFor(config, f.model, f.data);
      const split = leaveOneOutSplit(ds);
      const counts = itemCounts(split.train, config.model.numItems);
      const result = evaluateNextItem(model, f.split === 'test' ? split.test : split.valid, counts, {
        ks: f.k, maskHistory: f.maskHistory ?? false, sampledNegatives: f.sampled, seed: f.seed,
      });
      if (f.json) {
        console.log(JSON.stringify({
          split: f.split, users: result.users, items: result.items, protocol: result.protocol,
          historyMasked: result.historyMasked, ...result.metrics, popularity: result.popularity,
        }));
        return;
      }
      console.log(`${f.split} split: ${result.users} users, ${result.items} items; ${result.protocol}; history ${result.historyMasked ? 'masked' : 'not masked'}`);
      console.log(`${'metric'.padEnd(10)} ${'model'.padStart(8)} ${'popularity'.padStart(11)}`);
      for (const [name, v] of Object.entries(result.metrics)) {
        console.log(`${name.padEnd(10)} ${v.toFixed(4).padStart(8)} ${result.popularity![name]!.toFixed(4).padStart(11)}`);
      }
    });
}
