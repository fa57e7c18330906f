/**
 * A user as the bag of items they touched: one sparse row per user over the item vocabulary (CSR), each item once,
 * weighted binary or tf-idf, rows scaled to unit L2 norm so long and short histories weigh the same. The idf is
 * measured on the training users only, so nothing about validation or test users leaks into the features.
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

/** Smoothed inverse document frequency per column, ln((1 + n) / (1 + df)) + 1 as scikit-learn's TfidfTransformer. */
export function inverseDocumentFrequency(histories: readonly Int32Array[], columns: number, column: (item: number) => number): Float64Array {
  const df = new Float64Array(columns);
  for (const h of histories) for (const c of new Set(Array.from(h, column))) df[c]!++;
  return df.map((d) => Math.log((1 + histories.length) / (1 + d)) + 1);
}

/**
 * One L2-normalised row per history. `column` maps an item to its column (item index i → i - 1 for a dataset's
 * items); `idf` null means binary weights.
 */
export function bagOfItems(histories: readonly Int32Array[], columns: number, column: (item: number) => number,
  idf: Float64Array | null): SparseRows {
  const indptr = new Int32Array(histories.length + 1);
  const indices: number[] = [];
  const values: number[] = [];
  histories.forEach((h, r) => {
    const cols = [...new Set(Array.from(h, column))].sort((a, b) => a - b);
    const weights = cols.map((c) => (idf ? idf[c]! : 1));
    const norm = Math.sqrt(weights.reduce((s, w) => s + w * w, 0)) || 1;
    for (let j = 0; j < cols.length; j++) {
      if (cols[j]! < 0 || cols[j]! >= columns) throw new RangeError(`item column ${cols[j]} outside 0..${columns - 1}`);
      indices.push(cols[j]!);
      values.push(weights[j]! / norm);
    }
    indptr[r + 1] = indices.length;
  });
  return { rows: histories.length, columns, indptr, indices: Int32Array.from(indices), values: Float64Array.from(values) };
}
