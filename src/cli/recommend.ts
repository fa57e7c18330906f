import { Command } from 'commander';
import { loadModel } from '../api/model.js';
import { recommend } from '../api/query.js';
import { backend } from '../tensor/index.js';
import { HistoryFlags, ITEMS_WORDING, usersFromFlags, withHistoryOptions } from './history.js';
import { integerOption } from './options.js';
import { itemTextFile, withItemTextOptions } from './item-text-options.js';

interface RecommendFlags extends HistoryFlags {
  model: string;
  threads?: number;
  itemText?: string;
  itemTextCols?: string[];
  k: number;
  includeSeen?: boolean;
  json?: boolean;
}

export function recommendCommand(): Command {
  return withItemTextOptions(withHistoryOptions(new Command('recommend')
    .description('Top-k next items for a known user (--user with --data) or for a given sequence (--items a,b,c)')
    .requiredOption('--model <dir>', 'model directory')), 'to score besides the trained ones')
    .option('--k <n>', 'how many items', integerOption('k'), 10)
    .option('--include-seen', 'allow items already in the sequence')
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--json', 'print JSON')
    .action(async (f: RecommendFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      const who = usersFromFlags(f);
      const model = await loadModel(f.model, { itemText: itemTextFile(f) });
      const [top] = await recommend(model, who, { k: f.k, includeSeen: f.includeSeen ?? false }, ITEMS_WORDING);
      if (f.json) console.log(JSON.stringify({ recommendations: top }));
      else for (const r of top!) console.log(`${r.item}\t${r.score.toFixed(4)}`);
    });
}
