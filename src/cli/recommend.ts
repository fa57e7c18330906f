import { Command } from 'commander';
import { backend } from '../tensor/index.js';
import { topKIndices } from '../eval/topk.js';
import { encodeHistories, forEachScoreRow } from '../models/encoder.js';
import { loadModelDir } from '../train/checkpoint.js';
import { HistoryFlags, resolveHistory, withHistoryOptions } from './history.js';
import { integerOption, nameListOption } from './options.js';
import { readItemTexts } from '../data/ingest/item-text.js';
import { withItemTexts } from '../train/catalogue.js';

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
  return withHistoryOptions(new Command('recommend')
    .description('Top-k next items for a known user (--user with --data) or for a given sequence (--items a,b,c)')
    .requiredOption('--model <dir>', 'model directory'))
    .option('--item-text <file>', 'text model: a table of items (an item column and text columns) to score besides the trained ones, by their text alone')
    .option('--item-text-cols <names>', 'text columns of --item-text, joined in this order (default: all but the item column)', nameListOption('item-text-cols'))
    .option('--k <n>', 'how many items', integerOption('k'), 10)
    .option('--include-seen', 'allow items already in the sequence')
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--json', 'print JSON')
    .action(async (f: RecommendFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      const loaded = await loadModelDir(f.model);
      const base = f.itemText
        ? withItemTexts(loaded, await readItemTexts(f.itemText, f.itemTextCols ? { columns: f.itemTextCols } : {}), f.model).base
        : loaded;
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
