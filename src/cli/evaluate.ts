import { Command } from 'commander';
import { evaluate } from '../api/model.js';
import { backend } from '../tensor/index.js';
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
      const result = await evaluate(f.model, {
        data: f.data, split: f.split, ks: f.k, maskHistory: f.maskHistory ?? false, sampled: f.sampled, seed: f.seed,
      });
      if (f.json) {
        const { metrics, popularity, ...rest } = result;
        console.log(JSON.stringify({ ...rest, ...metrics, popularity }));
        return;
      }
      console.log(`${f.split} split: ${result.users} users, ${result.items} items; ${result.protocol}; history ${result.historyMasked ? 'masked' : 'not masked'}`);
      console.log(`${'metric'.padEnd(10)} ${'model'.padStart(8)} ${'popularity'.padStart(11)}`);
      for (const [name, v] of Object.entries(result.metrics)) {
        console.log(`${name.padEnd(10)} ${v.toFixed(4).padStart(8)} ${result.popularity[name]!.toFixed(4).padStart(11)}`);
      }
    });
}
