import { Command } from 'commander';
import { loadDataset, userSequence } from '../data/dataset.js';
import { DataError } from '../errors.js';
import { encodeHistories, forEachScoreRow } from '../models/nextitnet.js';
import { assertSameVocabulary, loadModelDir } from '../train/checkpoint.js';
import { integerOption } from './options.js';

interface RecommendFlags {
  model: string;
  user?: string;
  data?: string;
  items?: string;
  k: number;
  includeSeen?: boolean;
  ignoreUnknown?: boolean;
  json?: boolean;
}

export function recommendCommand(): Command {
  return new Command('recommend')
    .description('Top-k next items for a known user (--user with --data) or for a given sequence (--items a,b,c)')
    .requiredOption('--model <dir>', 'model directory')
    .option('--user <id>', 'raw user id of a user in --data')
    .option('--data <dir>', 'dataset holding --user\'s sequence')
    .option('--items <list>', 'comma-separated raw item ids, oldest first')
    .option('--k <n>', 'how many items', integerOption('k'), 10)
    .option('--include-seen', 'allow items already in the sequence')
    .option('--ignore-unknown', 'skip --items the model does not know instead of failing')
    .option('--json', 'print JSON')
    .action(async (f: RecommendFlags) => {
      if ((f.user === undefined) === (f.items === undefined)) throw new DataError('give exactly one of --user (with --data) or --items');
      const { model, config, items } = await loadModelDir(f.model);
      let history: Int32Array;
      if (f.user !== undefined) {
        if (!f.data) throw new DataError('--user needs --data, the dataset that holds the user\'s sequence');
        const ds = await loadDataset(f.data);
        assertSameVocabulary(config, ds.items, f.model, f.data);
        const u = ds.users.indexOf(f.user);
        if (u < 0) throw new DataError(`${f.data}: unknown user "${f.user}"`);
        history = userSequence(ds, u);
      } else {
        const index = new Map(items.map((raw, i) => [raw, i + 1]));
        const raw = f.items!.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
        const unknown = raw.filter((r) => !index.has(r));
        if (unknown.length > 0 && !f.ignoreUnknown) {
          throw new DataError(`unknown item ids (not in the model's vocabulary): ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', …' : ''}`);
        }
        history = Int32Array.from(raw.filter((r) => index.has(r)), (r) => index.get(r)!);
        if (history.length === 0) throw new DataError('no known items in --items');
      }
      const seen = new Set(f.includeSeen ? [] : history);
      const vectors = encodeHistories(model, [history]);
      let top: { item: string; score: number }[] = [];
      forEachScoreRow(model, vectors, (_, scores) => {
        const candidates: number[] = [];
        for (let v = 1; v <= config.model.numItems; v++) if (!seen.has(v)) candidates.push(v);
        candidates.sort((a, b) => scores[b]! - scores[a]! || a - b);
        top = candidates.slice(0, f.k).map((v) => ({ item: items[v - 1]!, score: scores[v]! }));
      });
      if (f.json) console.log(JSON.stringify({ recommendations: top }));
      else for (const r of top) console.log(`${r.item}\t${r.score.toFixed(4)}`);
    });
}
