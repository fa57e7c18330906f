import { Command } from 'commander';
import { backend } from '../tensor/index.js';
import { topKIndices } from '../eval/topk.js';
import { encodeHistories, forEachScoreRow } from '../models/encoder.js';
import { loadModelDir } from '../train/checkpoint.js';
import { HistoryFlags, resolveHistory, withHistoryOptions } from './history.js';
import { integerOption } from './options.js';
import { withItemTextFile } from '../train/catalogue.js';
import { ItemTextFlags, itemTextFile, withItemTextOptions } from './item-text-options.js';

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
      const loaded = await loadModelDir(f.model);
      const newItems = itemTextFile(f);
      const base = newItems ? (await withItemTextFile(loaded, newItems, f.model)).base : loaded;
      const { model, config, items } = base;
      // A known user's sequence is read in the trained vocabulary; --items may name the new items too.
      const history = await resolveHistory(f, f.user !== undefined ? loaded : base, f.model);
      const seen = new Set(f.includeSeen ? [] : history);
      const vectors = encodeHistories(model, [history]);
      let top: { item: string; score: number }[] = [];
      forEachScoreRow(model, vectors, (_, scores) => {
        top = Array.from(topKIndices(scores, f.k, 1, config.model.numItems + 1, (v) => !seen.has(v)),
          (v) => ({ item: items[v - 1]!, score: scores[v]! }));
      });
      if (f.json) console.log(JSON.stringify({ recommendations: top }));
      else for (const r of top) console.log(`${r.item}\t${r.score.toFixed(4)}`);
    });
}
