import { Command } from 'commander';
import { topKIndices } from '../eval/topk.js';
import { encodeHistories, forEachScoreRow } from '../models/encoder.js';
import { loadModelDir } from '../train/checkpoint.js';
import { HistoryFlags, resolveHistory, withHistoryOptions } from './history.js';
import { integerOption } from './options.js';

interface RecommendFlags extends HistoryFlags {
  model: string;
  k: number;
  includeSeen?: boolean;
  json?: boolean;
}

export function recommendCommand(): Command {
  return withHistoryOptions(new Command('recommend')
    .description('Top-k next items for a known user (--user with --data) or for a given sequence (--items a,b,c)')
    .requiredOption('--model <dir>', 'model directory'))
    .option('--k <n>', 'how many items', integerOption('k'), 10)
    .option('--include-seen', 'allow items already in the sequence')
    .option('--json', 'print JSON')
    .action(async (f: RecommendFlags) => {
      const base = await loadModelDir(f.model);
      const { model, config, items } = base;
      const history = await resolveHistory(f, base, f.model);
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
