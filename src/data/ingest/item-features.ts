/**
 * An item vector table (an item column and one vector column: a Parquet/JSON list of numbers, or a delimited
 * file's "[0.1, 0.2, …]" text) joined onto the ingested items: one vector per kept item, for the features item
 * encoder. Rows for items the log does not keep are ignored, as with item text. Every vector must have the same
 * length and finite values, and one row per item; a kept item without a row is an error unless allowMissing
 * (then a zero vector, counted).
 */
import { DataError } from '../../errors.js';
import { DuckSession } from './duckdb.js';
import { detectFormat, findColumn, openTableSource, refuseDuplicateKeys, requireUtf8, rowLocator } from './formats.js';

export interface ItemFeaturesOptions {
  file: string;
  /** The item key column's name (default: the interaction log's item column name, else item, else item_id). */
  itemColumn: string;
  /** The vector column (default: the one column besides the item column). */
  column?: string;
  allowMissing: boolean;
}

export interface ItemFeatureTable {
  dim: number;
  /** [(numItems + 1) * dim], row 0 (padding) zero. */
  vectors: Float32Array;
  itemsWithoutFeatures: number;
}

function parseVector(text: string): number[] | null {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : null;
  } catch {
    return null;
  }
}

/** Needs the `item_idx(i, idx)` table of the ingested items. */
export async function joinItemFeatures(session: DuckSession, opts: ItemFeaturesOptions): Promise<ItemFeatureTable> {
  const format = detectFormat(opts.file);
  if (format !== 'parquet') requireUtf8(opts.file);
  const source = await openTableSource(session, opts.file, { format, header: true });
  const where = rowLocator(source);
  const key = findColumn(source, opts.itemColumn) ?? findColumn(source, 'item') ?? findColumn(source, 'item_id');
  if (key === undefined) throw new DataError(`${opts.file}: no item column '${opts.itemColumn}'; found columns: ${source.columns.join(', ')}`);
  const others = source.columns.filter((c) => c !== key);
  const column = opts.column !== undefined ? findColumn(source, opts.column) : others.length === 1 ? others[0] : undefined;
  if (column === undefined) {
    throw new DataError(opts.column !== undefined
      ? `${opts.file}: no vector column '${opts.column}'; found columns: ${source.columns.join(', ')}`
      : `${opts.file}: expected one vector column besides the item column '${key}', found ${others.length} (${others.join(', ')})`);
  }
  await session.run(`CREATE TEMP TABLE item_vec AS SELECT * FROM ${source.selectAsText([{ alias: 'item_key', column: key }, { alias: 'vec', column }])}`);
  await refuseDuplicateKeys(session, 'item_vec', 'item_key', source, 'item');
  const rows = (await session.rows('SELECT item_key, vec, rowid FROM item_vec ORDER BY rowid')) as [string | null, string | null, number][];
  if (rows.length === 0) throw new DataError(`${opts.file}: no item rows`);
  const items = await session.strings('SELECT i FROM item_idx ORDER BY idx');
  const index = new Map(items.map((raw, k) => [raw!, k + 1]));

  let dim = -1;
  const byItem = new Map<number, number[]>();
  for (const [item, text, rowid] of rows) {
    if (item === null) continue;
    const vector = text === null ? null : parseVector(text);
    if (!vector || vector.length === 0) throw new DataError(`${opts.file} ${where(rowid)}: item ${JSON.stringify(item)} has no vector of numbers in '${column}'`);
    if (dim < 0) dim = vector.length;
    if (vector.length !== dim) throw new DataError(`${opts.file} ${where(rowid)}: item ${JSON.stringify(item)} has ${vector.length} values, earlier rows ${dim}`);
    if (!vector.every(Number.isFinite)) throw new DataError(`${opts.file} ${where(rowid)}: item ${JSON.stringify(item)} has a value that is not a finite number`);
    const k = index.get(item);
    if (k === undefined) continue;
    byItem.set(k, vector);
  }
  const missing = items.filter((_, k) => !byItem.has(k + 1));
  if (missing.length > 0 && !opts.allowMissing) {
    const shown = missing.slice(0, 3).map((i) => JSON.stringify(i)).join(', ');
    throw new DataError(`${opts.file}: ${missing.length} of ${items.length} items have no vector (e.g. ${shown}); pass --allow-missing to give them a zero vector`);
  }
  const vectors = new Float32Array((items.length + 1) * dim);
  for (const [k, v] of byItem) vectors.set(v, k * dim);
  return { dim, vectors, itemsWithoutFeatures: missing.length };
}
