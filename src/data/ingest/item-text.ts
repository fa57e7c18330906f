/**
 * An item text table (an `item` column and text columns: title, categories, description, …) joined onto the
 * ingested items: one text per kept item, its columns' values joined by ". ", then tokenised once (see
 * text/tokenize.ts) into the dataset's token rows. Rows for items the log does not keep are ignored.
 */
import { DataError } from '../../errors.js';
import { TokenizerSpec, tokenRows, type TokenRows } from '../text/tokenize.js';
import { DuckSession, sqlIdentifier } from './duckdb.js';
import { detectFormat, findColumn, openTableSource, refuseDuplicateKeys, requireUtf8 } from './formats.js';

export interface ItemTextOptions {
  file: string;
  /** The text columns, in the order they are joined; default every column but the item column. */
  columns?: string[];
  /** The item key column's name (default: the interaction log's item column name, else item, else item_id). */
  itemColumn: string;
  /** Count kept items without a row (their text is empty) instead of refusing the file. */
  allowMissing: boolean;
  tokenizer: TokenizerSpec;
}

export interface ItemText {
  /** Text columns used, in join order. */
  columns: string[];
  /** texts[i - 1]: the text of item index i ("" when it has none). */
  texts: string[];
  /** Token rows over item indices 0..numItems (row 0, padding, is empty). */
  tokens: TokenRows;
  itemsWithoutText: number;
}

/**
 * Reads the text table into the temp table `item_text(item_key, t0, t1, …)` after checking it (UTF-8, an item
 * column, the text columns, one row per item); returns the text columns and the SQL that joins a row's texts.
 */
async function loadTextTable(session: DuckSession, opts: Pick<ItemTextOptions, 'file' | 'columns' | 'itemColumn'>): Promise<{ columns: string[]; joined: string }> {
  const format = detectFormat(opts.file);
  if (format !== 'parquet') requireUtf8(opts.file);
  const source = await openTableSource(session, opts.file, { format, header: true });
  const key = findColumn(source, opts.itemColumn) ?? findColumn(source, 'item') ?? findColumn(source, 'item_id');
  if (key === undefined) throw new DataError(`${opts.file}: no item column '${opts.itemColumn}'; found columns: ${source.columns.join(', ')}`);
  const columns = opts.columns
    ? opts.columns.map((c) => {
        const found = findColumn(source, c);
        if (found === undefined) throw new DataError(`${opts.file}: no text column '${c}'; found columns: ${source.columns.join(', ')}`);
        return found;
      })
    : source.columns.filter((c) => c !== key);
  if (columns.length === 0) throw new DataError(`${opts.file}: no text columns besides the item column '${key}'`);

  const picks = [{ alias: 'item_key', column: key }, ...columns.map((column, k) => ({ alias: `t${k}`, column }))];
  await session.run(`CREATE TEMP TABLE item_text AS SELECT * FROM ${source.selectAsText(picks)}`);
  const [[rows]] = (await session.rows('SELECT count(*) FROM item_text')) as [[number]];
  if (rows === 0) throw new DataError(`${opts.file}: no item rows`);
  await refuseDuplicateKeys(session, 'item_text', 'item_key', source, 'item');
  // concat_ws skips nulls, so an empty field adds no separator.
  const joined = `concat_ws('. ', ${columns.map((_, k) => `nullif(trim(t.${sqlIdentifier(`t${k}`)}), '')`).join(', ')})`;
  return { columns, joined };
}

/**
 * Every item of a text table with its text (columns joined by ". "), in file order: items described by text
 * alone, e.g. new items a text model scores without having seen them. A row without an item id or without text
 * is an error naming it.
 */
export async function readItemTexts(file: string, opts: { columns?: string[]; itemColumn?: string } = {}): Promise<{ ids: string[]; texts: string[] }> {
  const session = await DuckSession.open();
  try {
    const { joined } = await loadTextTable(session, { file, itemColumn: opts.itemColumn ?? 'item', ...(opts.columns ? { columns: opts.columns } : {}) });
    const rows = (await session.rows(`SELECT t.item_key, ${joined} FROM item_text t ORDER BY t.rowid`)) as [string | null, string | null][];
    const bad = rows.findIndex(([id, text]) => id === null || id === '' || text === null || text === '');
    if (bad >= 0) throw new DataError(`${file}: row ${bad + 1} has ${rows[bad]![0] ? `no text for item ${JSON.stringify(rows[bad]![0])}` : 'no item id'}`);
    return { ids: rows.map(([id]) => id!), texts: rows.map(([, text]) => text!) };
  } finally {
    await session.close();
  }
}

/** Needs the `item_idx(i, idx)` table of the ingested items. */
export async function joinItemText(session: DuckSession, opts: ItemTextOptions): Promise<ItemText> {
  const { columns, joined } = await loadTextTable(session, opts);
  const texts = (await session.strings(
    `SELECT ${joined} FROM item_idx LEFT JOIN item_text t ON t.item_key = item_idx.i ORDER BY item_idx.idx`,
  )).map((t) => t ?? '');
  const missing = await session.strings(
    `SELECT item_idx.i FROM item_idx LEFT JOIN item_text t ON t.item_key = item_idx.i
     WHERE t.item_key IS NULL OR ${joined} = '' ORDER BY item_idx.idx`,
  );
  if (missing.length > 0 && !opts.allowMissing) {
    const shown = missing.slice(0, 3).map((i) => JSON.stringify(i)).join(', ');
    throw new DataError(`${opts.file}: ${missing.length} of ${texts.length} items have no text (e.g. ${shown}); pass --allow-missing to train them on an empty text`);
  }
  return { columns, texts, tokens: tokenRows(['', ...texts], opts.tokenizer), itemsWithoutText: missing.length };
}
