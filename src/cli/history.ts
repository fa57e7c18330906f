/** The behaviour sequence a command scores: a known user's (--user with --data) or one given as --items. */
import { Command } from 'commander';
import { loadDataset, userSequence } from '../data/dataset.js';
import { baseItemIndex, sourceHistory } from '../transfer/crossdomain.js';
import { DataError } from '../errors.js';
import { LoadedModel, loadDatasetFor } from '../train/checkpoint.js';

export interface HistoryFlags {
  user?: string;
  data?: string;
  items?: string;
  ignoreUnknown?: boolean;
}

/**
 * The sequence to score, in the base model's item indices. With `sourceDomain` (cross-domain tasks) a --user's
 * sequence is their items in that domain, matched to the model by raw id, so --data may be a dataset with both
 * domains; otherwise --data must share the model's vocabulary.
 */
export async function resolveHistory(f: HistoryFlags, base: LoadedModel, modelDir: string,
  sourceDomain: string | null = null): Promise<Int32Array> {
  if ((f.user === undefined) === (f.items === undefined)) throw new DataError('give exactly one of --user (with --data) or --items');
  if (f.user !== undefined) {
    if (!f.data) throw new DataError('--user needs --data, the dataset that holds the user\'s sequence');
    const ds = sourceDomain === null ? await loadDatasetFor(base.config, modelDir, f.data) : await loadDataset(f.data);
    const u = ds.users.indexOf(f.user);
    if (u < 0) throw new DataError(`${f.data}: unknown user "${f.user}"`);
    return sourceDomain === null ? userSequence(ds, u) : sourceHistory(ds, u, sourceDomain, baseItemIndex(ds, base.items), f.data);
  }
  const index = new Map(base.items.map((raw, i) => [raw, i + 1]));
  const raw = f.items!.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const unknown = raw.filter((r) => !index.has(r));
  if (unknown.length > 0 && !f.ignoreUnknown) {
    throw new DataError(`unknown item ids (not in the model's vocabulary): ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', …' : ''}`);
  }
  const history = Int32Array.from(raw.filter((r) => index.has(r)), (r) => index.get(r)!);
  if (history.length === 0) throw new DataError('no known items in --items');
  return history;
}

/** The options resolveHistory reads, added to a command. */
export function withHistoryOptions(command: Command): Command {
  return command
    .option('--user <id>', 'raw user id of a user in --data')
    .option('--data <dir>', 'dataset holding --user\'s sequence')
    .option('--items <list>', 'comma-separated raw item ids, oldest first')
    .option('--ignore-unknown', 'skip --items the model does not know instead of failing');
}
