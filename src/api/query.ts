/**
 * Asking a base model about users: top-k next items, and user and item vectors. Users are given as ids in a
 * dataset, or as histories of raw item ids; every answer comes back in the order asked.
 */
import { loadDataset, userSequence } from '../data/dataset.js';
import { DataError } from '../errors.js';
import { topKIndices } from '../eval/topk.js';
import { encodeHistories, forEachScoreRow } from '../models/encoder.js';
import { noGrad } from '../tensor/index.js';
import { loadDatasetFor } from '../train/checkpoint.js';
import { baseItemIndex, sourceHistory } from '../transfer/crossdomain.js';
import { Model } from './model.js';

/**
 * Whose answers: users of a dataset by raw id (`data`: its directory; a base model's vocabulary, or for a
 * cross-domain task any dataset holding the source domain), or histories of raw item ids, oldest first.
 */
export type Users =
  | { users: readonly string[]; data: string }
  | { histories: readonly (readonly string[])[]; /** Drop item ids the model does not know instead of failing. */ ignoreUnknown?: boolean };

/**
 * The histories to score, in the base model's item indices. With `sourceDomain` (cross-domain tasks) a user's
 * history is their items in that domain, matched to the model by raw id.
 */
export async function resolveHistories(who: Users, base: Model, sourceDomain: string | null = null): Promise<Int32Array[]> {
  if ('users' in who) {
    const ds = sourceDomain === null ? await loadDatasetFor(base.config, base.dir, who.data) : await loadDataset(who.data);
    const index = new Map(ds.users.map((raw, u) => [raw, u]));
    const toBase = sourceDomain === null ? null : baseItemIndex(ds, base.items);
    return who.users.map((id) => {
      const u = index.get(id);
      if (u === undefined) throw new DataError(`${who.data}: unknown user "${id}"`);
      const history = toBase === null ? userSequence(ds, u) : sourceHistory(ds, u, sourceDomain!, toBase, who.data);
      if (history.length === 0) throw new DataError(`user "${id}" has no ${sourceDomain ?? ''}${sourceDomain ? ' ' : ''}items the model knows`);
      return history;
    });
  }
  const index = new Map(base.items.map((raw, i) => [raw, i + 1]));
  return who.histories.map((items, h) => {
    const unknown = items.filter((r) => !index.has(r));
    if (unknown.length > 0 && !who.ignoreUnknown) {
      throw new DataError(`history ${h}: unknown item ids (not in the model's vocabulary): ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', …' : ''}`);
    }
    const history = Int32Array.from(items.filter((r) => index.has(r)), (r) => index.get(r)!);
    if (history.length === 0) throw new DataError(`history ${h}: no item the model knows`);
    return history;
  });
}

export interface Scored {
  item: string;
  score: number;
}

/**
 * The model's top-k next items for each user.
 *
 * @param options - k (default 10); includeSeen: allow items already in the history (default false).
 * @returns one list per user, best first.
 */
export async function recommend(model: Model, who: Users, options: { k?: number; includeSeen?: boolean } = {}): Promise<Scored[][]> {
  const k = options.k ?? 10;
  if (!Number.isSafeInteger(k) || k < 1) throw new DataError(`recommend: k must be a positive integer, got ${k}`);
  const histories = await resolveHistories(who, model);
  const numItems = model.config.model.numItems;
  const answers: Scored[][] = [];
  forEachScoreRow(model.model, encodeHistories(model.model, histories), (row, scores) => {
    const seen = new Set(options.includeSeen ? [] : histories[row]!);
    answers.push(Array.from(topKIndices(scores, k, 1, numItems + 1, (v) => !seen.has(v)), (v) => ({ item: model.items[v - 1]!, score: scores[v]! })));
  });
  return answers;
}

export interface Vectors {
  /** The ids, in order (user ids or raw item ids; `history 0`, … for histories). */
  ids: string[];
  dim: number;
  /** One vector of `dim` floats per id. */
  vectors: Float32Array[];
}

function split(ids: string[], flat: Float32Array, dim: number): Vectors {
  return { ids, dim, vectors: ids.map((_, i) => flat.slice(i * dim, (i + 1) * dim)) };
}

/** The base model's user vectors (its reading at the last position of each history). */
export async function embedUsers(model: Model, who: Users): Promise<Vectors> {
  const histories = await resolveHistories(who, model);
  const ids = 'users' in who ? [...who.users] : who.histories.map((_, h) => `history ${h}`);
  return split(ids, encodeHistories(model.model, histories), model.config.model.dim);
}

/** Every item's input vector from the model's item encoder (an id row, its text, or both). */
export function embedItems(model: Model): Vectors {
  const dim = model.config.model.dim;
  const table = noGrad(() => model.model.items.table());
  return split([...model.items], table.data.subarray(dim), dim);
}
