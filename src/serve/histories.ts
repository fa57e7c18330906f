/**
 * Turns a request's `{"user": id}` or `{"items": [...]}` into a sequence of base-model item indices. Items are
 * matched by raw id; unknown ones are a 400 error naming them, or, when the server runs with
 * `ignoreUnknownItems`, dropped and reported back. A user is looked up in the server's dataset; for a
 * cross-domain task only the user's source-domain items are used.
 */
import { Dataset, userSequence } from '../data/dataset.js';
import { LoadedModel } from '../train/checkpoint.js';
import { baseItemIndex, sourceHistory } from '../transfer/crossdomain.js';
import { HttpError } from './http-error.js';

export interface HistoryRequest {
  user?: string;
  items?: string[];
}

export interface ResolvedHistory {
  history: Int32Array;
  /** Unknown item ids dropped from `items` (only with ignoreUnknownItems). */
  ignoredItems: string[];
}

export class HistoryResolver {
  private readonly itemIndex: Map<string, number>;
  private readonly userIndex: Map<string, number> | null;
  private readonly datasetToBase: Int32Array | null;

  constructor(
    base: LoadedModel,
    private readonly dataset: Dataset | null,
    private readonly datasetName: string,
    private readonly ignoreUnknownItems: boolean,
  ) {
    this.itemIndex = new Map(base.items.map((raw, i) => [raw, i + 1]));
    this.userIndex = dataset ? new Map(dataset.users.map((raw, u) => [raw, u])) : null;
    this.datasetToBase = dataset ? baseItemIndex(dataset, base.items) : null;
  }

  /**
   * `vocabulary`: only items 1..vocabulary count as known (a task knows the base's trained items, not the ones
   * registered by text at load); default: every item of the base. `added`: a request's own new items (by text),
   * indexed after the base's, as train/catalogue.ts extends it — looked up here without copying the base's map.
   */
  resolve(req: HistoryRequest, sourceDomain: string | null, vocabulary = this.itemIndex.size, added: readonly string[] = []): ResolvedHistory {
    if ((req.user === undefined) === (req.items === undefined)) throw new HttpError(400, 'give exactly one of "user" or "items"');
    if (req.user !== undefined) {
      const history = this.userHistory(req.user, sourceDomain);
      return { history: vocabulary < this.itemIndex.size ? history.filter((v) => v <= vocabulary) : history, ignoredItems: [] };
    }
    const addedIndex = new Map(added.map((raw, k) => [raw, this.itemIndex.size + 1 + k]));
    const index = (raw: string) => {
      const i = this.itemIndex.get(raw);
      return i !== undefined && i <= vocabulary ? i : addedIndex.get(raw);
    };
    const which = vocabulary < this.itemIndex.size ? 'not among the items the task was trained with' : 'not in the model\'s vocabulary';
    return itemsHistory(req.items!, index, this.ignoreUnknownItems, which);
  }

  /**
   * A next-item task's history: `items` are ids of the task's own catalogue (another platform's), which the
   * server's dataset does not hold, so `user` is refused.
   */
  resolveInCatalogue(req: HistoryRequest, task: string, itemIndex: ReadonlyMap<string, number>): ResolvedHistory {
    if (req.items === undefined) {
      throw new HttpError(400, `task "${task}" recommends items of its own platform: send that platform's "items" (users are not looked up for it)`);
    }
    return itemsHistory(req.items, (raw) => itemIndex.get(raw), this.ignoreUnknownItems, `not in task "${task}"'s catalogue`);
  }

  private userHistory(user: string, sourceDomain: string | null): Int32Array {
    if (!this.dataset || !this.userIndex) throw new HttpError(400, 'this server has no dataset (start it with --data) to look users up in; send "items" instead');
    const u = this.userIndex.get(user);
    if (u === undefined) throw new HttpError(404, `unknown user "${user}"`);
    const history = sourceDomain !== null && this.dataset.domains
      ? sourceHistory(this.dataset, u, sourceDomain, this.datasetToBase!, this.datasetName)
      : Int32Array.from(Array.from(userSequence(this.dataset, u), (v) => this.datasetToBase![v]!).filter((v) => v > 0));
    if (history.length === 0) throw new HttpError(422, `user "${user}" has no ${sourceDomain ?? ''}${sourceDomain ? ' ' : ''}items the model knows`);
    return history;
  }
}

/** Raw ids to indices: unknown ones are a 400 naming them, or dropped and reported when the server ignores them. */
function itemsHistory(items: readonly string[], index: (raw: string) => number | undefined, ignoreUnknown: boolean, which: string): ResolvedHistory {
  const ignoredItems = items.filter((raw) => index(raw) === undefined);
  if (ignoredItems.length > 0 && !ignoreUnknown) {
    throw new HttpError(400, `unknown item ids (${which}): ${ignoredItems.slice(0, 10).join(', ')}${ignoredItems.length > 10 ? `, … (${ignoredItems.length} in all)` : ''}`);
  }
  const history = Int32Array.from(items.filter((raw) => index(raw) !== undefined), (raw) => index(raw)!);
  if (history.length === 0) throw new HttpError(400, 'no known items in "items"');
  return { history, ignoredItems };
}
