/**
 * Asking a base model about users: top-k next items, and user and item vectors. Users are given as ids in a
 * dataset, or as histories of raw item ids; every answer comes back in the order asked.
 */
import { Dataset, loadDataset, userSequence } from '../data/dataset.js';
import { DataError } from '../errors.js';
import { topKIndices } from '../eval/topk.js';
import { encodeHistories, forEachScoreRow } from '../models/encoder.js';
import { noGrad } from '../tensor/index.js';
import { loadDatasetFor, vocabularyHash } from '../train/checkpoint.js';
import { baseItemIndex, sourceHistory } from '../transfer/crossdomain.js';
import { Model } from './model.js';

/**
 * Whose answers: users of a dataset by raw id (`data`: its directory; a base model's vocabulary, or for a
 * cross-domain task any dataset holding the source domain; `users` left out: every user of it, in its order), or
 * histories of raw item ids, oldest first.
 */
export type Users =
  | { users?: readonly string[]; data: string }
  | { histories: readonly (readonly string[])[]; /** Drop item ids the model does not know instead of failing. */ ignoreUnknown?: boolean };

/**
 * What the errors about given histories say: the library numbers the histories; the command line, which takes one
 * history as --items, names its flag instead. One check, each message in its reader's terms.
 */
export interface HistoryWording {
  unknownItems: (h: number, ids: string) => string;
  noKnownItems: (h: number) => string;
}

export const NUMBERED_HISTORIES: HistoryWording = {
  unknownItems: (h, ids) => `history ${h}: unknown item ids (not in the model's vocabulary): ${ids}`,
  noKnownItems: (h) => `history ${h}: no item the model knows`,
};

/**
 * The histories to score, in the base model's item indices, and whose they are (user ids, or `history N`). With
 * `sourceDomain` (cross-domain tasks) a user's history is their items in that domain, matched to the model by raw
 * id. Users are read in the vocabulary the model was trained on (new items by text have no clicks in any dataset).
 */
export async function resolveUsers(who: Users, base: Model, sourceDomain: string | null = null,
  wording: HistoryWording = NUMBERED_HISTORIES): Promise<{ ids: string[]; histories: Int32Array[] }> {
  if ('data' in who) {
    const trained = base.trained ?? base;
    const ds = sourceDomain === null ? await loadDatasetFor(trained.config, trained.dir, who.data) : await loadDataset(who.data);
    const toBase = sourceDomain === null ? null : baseItemIndex(ds, trained.items);
    return datasetHistories(ds, who, (u, id) => {
      const history = toBase === null ? userSequence(ds, u) : sourceHistory(ds, u, sourceDomain!, toBase, who.data);
      if (history.length === 0) throw new DataError(`user "${id}" has no ${sourceDomain ?? ''}${sourceDomain ? ' ' : ''}items the model knows`);
      return history;
    });
  }
  return givenHistories(who, new Map(base.items.map((raw, i) => [raw, i + 1])), wording);
}

/**
 * The histories to score for a task over its own catalogue (a next-item task on a new platform): users of that
 * platform's dataset (the one the task was trained on: the same items in the same order), or histories of its raw
 * item ids.
 */
export async function resolveCatalogueUsers(who: Users, items: readonly string[], itemIndex: ReadonlyMap<string, number>, what: string,
  wording: HistoryWording = NUMBERED_HISTORIES): Promise<{ ids: string[]; histories: Int32Array[] }> {
  if (!('data' in who)) return givenHistories(who, itemIndex, wording);
  const ds = await loadDataset(who.data);
  if (vocabularyHash(ds.items) !== vocabularyHash(items)) {
    throw new DataError(`${who.data}: not the catalogue ${what} was trained on (its items differ); give that platform's dataset, or --items`);
  }
  return datasetHistories(ds, who, (u) => userSequence(ds, u));
}

/** The named users of a dataset (all of them when none are named), each history read by `historyOf`. */
function datasetHistories(ds: Dataset, who: Extract<Users, { data: string }>, historyOf: (user: number, id: string) => Int32Array):
  { ids: string[]; histories: Int32Array[] } {
  const index = new Map(ds.users.map((raw, u) => [raw, u]));
  const ids = who.users ? [...who.users] : ds.users;
  return {
    ids,
    histories: ids.map((id) => {
      const u = index.get(id);
      if (u === undefined) throw new DataError(`${who.data}: unknown user "${id}"`);
      return historyOf(u, id);
    }),
  };
}

/** Histories of raw item ids in a vocabulary's indices (unknown ids fail, or are dropped with ignoreUnknown). */
function givenHistories(who: Extract<Users, { histories: unknown }>, index: ReadonlyMap<string, number>,
  wording: HistoryWording): { ids: string[]; histories: Int32Array[] } {
  const histories = who.histories.map((items, h) => {
    const unknown = items.filter((r) => !index.has(r));
    if (unknown.length > 0 && !who.ignoreUnknown) {
      throw new DataError(wording.unknownItems(h, `${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', …' : ''}`));
    }
    const history = Int32Array.from(items.filter((r) => index.has(r)), (r) => index.get(r)!);
    if (history.length === 0) throw new DataError(wording.noKnownItems(h));
    return history;
  });
  return { ids: histories.map((_, h) => `history ${h}`), histories };
}

export interface Scored {
  item: string;
  score: number;
}

/**
 * The model's top-k next items for each user. A model loaded with `itemText` ranks its new items too, and its
 * histories may name them.
 *
 * @param options - k (default 10); includeSeen: allow items already in the history (default false).
 * @param wording - what errors about given histories say (the command line names --items).
 * @returns one list per user, best first.
 */
export async function recommend(model: Model, who: Users, options: { k?: number; includeSeen?: boolean } = {},
  wording: HistoryWording = NUMBERED_HISTORIES): Promise<Scored[][]> {
  const k = options.k ?? 10;
  if (!Number.isSafeInteger(k) || k < 1) throw new DataError(`recommend: k must be a positive integer, got ${k}`);
  const { histories } = await resolveUsers(who, model, null, wording);
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

/** The base model's user vectors (its reading at the last position of each history), by the network as trained. */
export async function embedUsers(model: Model, who: Users): Promise<Vectors> {
  const { ids, histories } = await resolveUsers(who, model);
  return split(ids, encodeHistories((model.trained ?? model).model, histories), model.config.model.dim);
}

/** Every item's input vector from the model's item encoder (an id row, its text, or both; new items by text last). */
export function embedItems(model: Model): Vectors {
  const dim = model.config.model.dim;
  const table = noGrad(() => model.model.items.table());
  return split([...model.items], table.data.subarray(dim), dim);
}
