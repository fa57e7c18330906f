/**
 * Several datasets as one (`--data a,b`): pretraining on two platforms' logs at once. Their users are
 * concatenated (user indices of b follow a's; a user id that occurs in both is two users, since the logs are
 * separate), and their items are merged into one vocabulary by raw id: the same id in two datasets is the same
 * item — that is what an id means across datasets ingested from one catalogue — and two platforms with unrelated
 * ids stay apart by having different ids. With item text, an item's text must agree wherever its id occurs (else
 * the id is ambiguous and the merge stops): the text encoder reads an item by its text, so ids that name the same
 * product under two texts would train two readings under one row of the vocabulary.
 */
import { createHash } from 'node:crypto';
import { DataError } from '../errors.js';
import { Dataset, DatasetMeta, datasetHash, loadDataset, validateDataset } from './dataset.js';

/** The directories of a `--data` value: one, or several separated by commas. */
export function datasetDirs(spec: string): string[] {
  const dirs = spec.split(',');
  if (dirs.some((d) => d.trim() === '')) throw new DataError(`--data "${spec}": an empty directory name in the list`);
  if (new Set(dirs).size !== dirs.length) throw new DataError(`--data "${spec}": a dataset is given twice`);
  return dirs;
}

/** loadDataset for one directory, the merge of several for a comma-separated list. */
export async function loadDatasets(spec: string): Promise<Dataset> {
  const dirs = datasetDirs(spec);
  if (dirs.length === 1) return loadDataset(dirs[0]!);
  return mergeDatasets(await Promise.all(dirs.map(async (dir) => ({ dir, ds: await loadDataset(dir) }))));
}

/** datasetHash of one directory; for a list, the hash of the parts' hashes in order (the merge depends on it). */
export async function datasetsHash(spec: string): Promise<string> {
  const dirs = datasetDirs(spec);
  if (dirs.length === 1) return datasetHash(dirs[0]!);
  const hash = createHash('sha256').update('graftrec merged datasets\n');
  for (const dir of dirs) hash.update(`${await datasetHash(dir)}\n`);
  return hash.digest('hex');
}

export function mergeDatasets(parts: readonly { dir: string; ds: Dataset }[]): Dataset {
  const [first] = parts;
  if (!first) throw new DataError('no dataset to merge');
  const withText = parts.filter((p) => p.ds.itemText !== undefined);
  if (withText.length !== 0 && withText.length !== parts.length) {
    throw new DataError(`${parts.find((p) => !p.ds.itemText)!.dir}: has no item text while ${withText[0]!.dir} has; merged datasets must all have item text or none`);
  }
  for (const { dir, ds } of parts) {
    // What pretraining does not read is not merged rather than merged by a rule nobody asked for.
    if (ds.itemFeatures) throw new DataError(`${dir}: has item vectors, which merging datasets does not support (ingest the logs together instead)`);
    if (ds.domains) throw new DataError(`${dir}: has a domain column, which merging datasets does not support (ingest the logs together instead)`);
    const tokenizer = ds.meta.itemText?.tokenizer;
    if (tokenizer && JSON.stringify(tokenizer) !== JSON.stringify(first.ds.meta.itemText!.tokenizer)) {
      throw new DataError(`${dir}: its item text was tokenised differently from ${first.dir}'s (${tokenizer.buckets} against ${first.ds.meta.itemText!.tokenizer.buckets} buckets); ingest both with the same --text-buckets`);
    }
  }

  const items: string[] = [];
  const texts: string[] = [];
  const index = new Map<string, { at: number; dir: string }>();
  const toMerged = parts.map(({ dir, ds }) => {
    const map = new Int32Array(ds.meta.numItems + 1);
    ds.items.forEach((raw, i) => {
      const text = ds.itemText?.texts[i] ?? '';
      const seen = index.get(raw);
      if (seen && texts[seen.at - 1] !== text) {
        throw new DataError(`item "${raw}" has one text in ${seen.dir} and another in ${dir}; the same id is the same item across merged datasets, so give it one text or different ids`);
      }
      if (!seen) {
        items.push(raw);
        texts.push(text);
        index.set(raw, { at: items.length, dir });
      }
      map[i + 1] = index.get(raw)!.at;
    });
    return map;
  });

  const numInteractions = parts.reduce((n, p) => n + p.ds.meta.numInteractions, 0);
  const sequences = new Int32Array(numInteractions);
  const offsets = new Int32Array(parts.reduce((n, p) => n + p.ds.meta.numUsers, 0) + 1);
  let at = 0;
  let user = 0;
  parts.forEach(({ ds }, k) => {
    for (let i = 0; i < ds.sequences.length; i++) sequences[at + i] = toMerged[k]![ds.sequences[i]!]!;
    for (let u = 1; u <= ds.meta.numUsers; u++) offsets[user + u] = at + ds.offsets[u]!;
    at += ds.sequences.length;
    user += ds.meta.numUsers;
  });

  const meta: DatasetMeta = {
    ...first.ds.meta,
    numUsers: user, numItems: items.length, numInteractions, domains: null, attributes: [],
    source: { merged: parts.map((p) => p.dir) },
    ...(first.ds.meta.itemText ? { itemText: { ...first.ds.meta.itemText, itemsWithoutText: texts.filter((t) => t === '').length } } : {}),
  };
  const merged: Dataset = {
    meta, items, users: parts.flatMap((p) => p.ds.users), sequences, offsets, domains: null, attributes: {},
    ...(first.ds.itemText ? { itemText: { texts, tokens: mergedTokens(parts, toMerged, items.length) } } : {}),
  };
  validateDataset(merged, parts.map((p) => p.dir).join(','));
  return merged;
}

/** The token rows of the merged items (CSR, row 0 padding), each copied from the first dataset that has the item. */
function mergedTokens(parts: readonly { ds: Dataset }[], toMerged: readonly Int32Array[], numItems: number): { offsets: Int32Array; tokens: Int32Array } {
  const rows: Int32Array[] = new Array<Int32Array>(numItems + 1).fill(new Int32Array(0));
  const filled = new Uint8Array(numItems + 1);
  parts.forEach(({ ds }, k) => {
    const { offsets, tokens } = ds.itemText!.tokens;
    for (let i = 1; i <= ds.meta.numItems; i++) {
      const m = toMerged[k]![i]!;
      if (filled[m]) continue;
      rows[m] = tokens.subarray(offsets[i]!, offsets[i + 1]!);
      filled[m] = 1;
    }
  });
  const offsets = new Int32Array(numItems + 2);
  rows.forEach((r, i) => (offsets[i + 1] = offsets[i]! + r.length));
  const tokens = new Int32Array(offsets[numItems + 1]!);
  rows.forEach((r, i) => tokens.set(r, offsets[i]!));
  return { offsets, tokens };
}
