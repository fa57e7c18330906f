/**
 * The examples of a cross-domain (cold-start) recommendation task: each user's SOURCE-domain items, in the base
 * model's vocabulary (matched by raw id, so the task dataset may be a different ingest than the pretraining one),
 * and the user's TARGET-domain items, numbered 0..T-1 in a new target vocabulary that the task's head scores.
 */
import { Dataset, userSequence } from '../data/dataset.js';
import { DataError } from '../errors.js';

export interface CrossDomainExamples {
  sourceDomain: string;
  targetDomain: string;
  /** Raw ids of the target items: row t of the task head is item targetItems[t]. */
  targetItems: string[];
  /** Dataset user indices of the users with both source (known to the model) and target items. */
  users: Int32Array;
  /** Per user (parallel to `users`): source items as base-model item indices, in time order. */
  sources: Int32Array[];
  /** Per user: target item rows (0-based), in time order, each item once. */
  targets: Int32Array[];
  /** Source-domain interactions with items the base model does not know (dropped). */
  unknownSourceInteractions: number;
  /**
   * Target items the base model's vocabulary holds: the base saw target-domain interactions in pretraining, so the
   * task is not a cold start (0 in the PeterRec setting, where the base is pretrained on the source domain only).
   */
  targetItemsKnownToBase: number;
}

function domainIndex(ds: Dataset, name: string, flag: string, datasetName: string): number {
  const domains = ds.meta.domains;
  if (!domains || !ds.domains) throw new DataError(`${datasetName}: the dataset has no domain column; cross-domain recommendation needs one (ingest with --domain-col, or the PeterRec layout)`);
  const d = domains.indexOf(name);
  if (d < 0) throw new DataError(`${datasetName}: unknown ${flag} "${name}" (domains: ${domains.join(', ')})`);
  return d;
}

/** Maps a user's interactions in `domain` through `index` (dataset item → row, -1 = drop). */
function domainItems(ds: Dataset, u: number, domain: number, index: Int32Array): { kept: Int32Array; dropped: number } {
  const seq = userSequence(ds, u);
  const offset = ds.offsets[u]!;
  const kept: number[] = [];
  let dropped = 0;
  for (let j = 0; j < seq.length; j++) {
    if (ds.domains![offset + j] !== domain) continue;
    const row = index[seq[j]!]!;
    if (row < 0) dropped++;
    else kept.push(row);
  }
  return { kept: Int32Array.from(kept), dropped };
}

/** Dataset item index → base-model item index by raw id (-1 where the model does not know the item). */
export function baseItemIndex(ds: Dataset, baseItems: readonly string[]): Int32Array {
  const byRaw = new Map(baseItems.map((raw, i) => [raw, i + 1]));
  const index = new Int32Array(ds.meta.numItems + 1).fill(-1);
  ds.items.forEach((raw, i) => (index[i + 1] = byRaw.get(raw) ?? -1));
  return index;
}

/**
 * A user's source-domain items in the base model's vocabulary (what a cross-domain task's user vector reads);
 * `toBase` is baseItemIndex(ds, base items).
 */
export function sourceHistory(ds: Dataset, u: number, sourceDomain: string, toBase: Int32Array, datasetName: string): Int32Array {
  return domainItems(ds, u, domainIndex(ds, sourceDomain, 'source domain', datasetName), toBase).kept;
}

/**
 * `baseItems` must be the base model's own vocabulary (its items file) and `modelItems` the number of items its
 * embedding table holds: source ids are looked up in that table, so a vocabulary of another ingest (one that
 * happens to number items the same way, or not) is refused.
 */
export function crossDomainExamples(ds: Dataset, baseItems: readonly string[], sourceDomain: string, targetDomain: string,
  datasetName: string, modelItems: number): CrossDomainExamples {
  if (baseItems.length !== modelItems) {
    throw new DataError(`${datasetName}: the base vocabulary given has ${baseItems.length} items but the base model has `
      + `${modelItems}; pass the base model's own item list`);
  }
  const source = domainIndex(ds, sourceDomain, 'source domain', datasetName);
  const target = domainIndex(ds, targetDomain, 'target domain', datasetName);
  if (source === target) throw new DataError(`source and target domain are both "${sourceDomain}"`);
  const toBase = baseItemIndex(ds, baseItems);

  // Target rows in dataset item order (ingest numbers each domain's items as one block, so this is stable).
  const targetRow = new Int32Array(ds.meta.numItems + 1).fill(-1);
  const targetItems: string[] = [];
  for (let i = 0; i < ds.sequences.length; i++) {
    const item = ds.sequences[i]!;
    if (ds.domains![i] === target && targetRow[item] === -1) targetRow[item] = 0;
  }
  for (let item = 1; item <= ds.meta.numItems; item++) {
    if (targetRow[item] === 0) {
      targetRow[item] = targetItems.length;
      targetItems.push(ds.items[item - 1]!);
    }
  }
  if (targetItems.length === 0) throw new DataError(`${datasetName}: the target domain "${targetDomain}" has no interactions`);

  const users: number[] = [];
  const sources: Int32Array[] = [];
  const targets: Int32Array[] = [];
  let unknownSourceInteractions = 0;
  for (let u = 0; u < ds.meta.numUsers; u++) {
    const src = domainItems(ds, u, source, toBase);
    unknownSourceInteractions += src.dropped;
    const tgt = Int32Array.from(new Set(domainItems(ds, u, target, targetRow).kept));
    if (src.kept.length === 0 || tgt.length === 0) continue;
    for (const v of src.kept) {
      if (v < 1 || v > modelItems) throw new Error(`internal: source item ${v} outside the base vocabulary 1..${modelItems}`);
    }
    users.push(u);
    sources.push(src.kept);
    targets.push(tgt);
  }
  if (users.length === 0) {
    throw new DataError(`${datasetName}: no user has items in both the source domain "${sourceDomain}" (known to the model) and the target domain "${targetDomain}"`);
  }
  const known = new Set(baseItems);
  const targetItemsKnownToBase = targetItems.reduce((n, raw) => n + (known.has(raw) ? 1 : 0), 0);
  return {
    sourceDomain, targetDomain, targetItems, users: Int32Array.from(users), sources, targets, unknownSourceInteractions,
    targetItemsKnownToBase,
  };
}
