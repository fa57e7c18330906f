/**
 * A user as the bag of items they touched: one sparse row per user (CSR), each item once, weighted binary or
 * tf-idf, rows scaled to unit L2 norm so long and short histories weigh the same. The idf is measured on the
 * training users only, so nothing about validation or test users leaks into the features. Only items some
 * training user has get a column (no weight could be learnt for the others), but every item of a history counts
 * in its row's norm, so the rows are those of the full item vocabulary with the empty columns left out.
 */

export const ITEM_WEIGHTINGS = ['binary', 'tfidf'] as const;
export type ItemWeighting = (typeof ITEM_WEIGHTINGS)[number];

/** Compressed sparse rows: row r holds columns indices[indptr[r] .. indptr[r+1]) with their values. */
export interface SparseRows {
  rows: number;
  columns: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

/** Per item index (0..vocabulary-1): ln((1 + n) / (1 + df)) + 1 over n histories, as scikit-learn's smoothed idf. */
export function inverseDocumentFrequency(histories: readonly Int32Array[], vocabulary: number): Float64Array {
  const df = new Float64Array(vocabulary);
  for (const h of histories) for (const item of new Set(h)) df[item]!++;
  return df.map((d) => Math.log((1 + histories.length) / (1 + d)) + 1);
}

/** Item index → column for the items the given (training) histories contain, -1 for the rest. */
export function itemColumns(histories: readonly Int32Array[], vocabulary: number): { column: Int32Array; columns: number } {
  const column = new Int32Array(vocabulary).fill(-1);
  for (const h of histories) for (const item of h) column[item] = 0;
  let columns = 0;
  for (let item = 0; item < vocabulary; item++) if (column[item] === 0) column[item] = columns++;
  return { column, columns };
}

/** One L2-normalised row per history; `idf` (per item index) null means binary weights. */
export function bagOfItems(histories: readonly Int32Array[], items: { column: Int32Array; columns: number },
  idf: Float64Array | null): SparseRows {
  const indptr = new Int32Array(histories.length + 1);
  const indices: number[] = [];
  const values: number[] = [];
  histories.forEach((h, r) => {
    const distinct = [...new Set(h)];
    const weight = (item: number) => (idf ? idf[item]! : 1);
    const norm = Math.sqrt(distinct.reduce((s, item) => s + weight(item) ** 2, 0)) || 1;
    const kept = distinct.filter((item) => items.column[item]! >= 0).sort((a, b) => items.column[a]! - items.column[b]!);
    for (const item of kept) {
      indices.push(items.column[item]!);
      values.push(weight(item) / norm);
    }
    indptr[r + 1] = indices.length;
  });
  return { rows: histories.length, columns: items.columns, indptr, indices: Int32Array.from(indices), values: Float64Array.from(values) };
}

let identity: { column: Int32Array; columns: number } = { column: new Int32Array(0), columns: 0 };

/**
 * Item index = column over a vocabulary. Kept from call to call: a head builds bag rows for every batch and every
 * scored user, and the map depends only on the vocabulary size.
 */
function identityColumns(vocabulary: number): { column: Int32Array; columns: number } {
  if (identity.columns !== vocabulary) identity = { column: Int32Array.from({ length: vocabulary }, (_, i) => i), columns: vocabulary };
  return identity;
}

/**
 * The binary bag rows of `histories` over the whole vocabulary (item index = column), as flat item indices,
 * their weights and per-history offsets: what a model sums learned per-item vectors over (segment layout).
 */
export function itemBagRows(histories: readonly Int32Array[], vocabulary: number): { indices: Int32Array; weights: Float32Array; offsets: Int32Array } {
  const rows = bagOfItems(histories, identityColumns(vocabulary), null);
  return { indices: rows.indices, weights: Float32Array.from(rows.values), offsets: rows.indptr };
}
