/**
 * Input formats and how DuckDB reads each one as a table of text columns. Every column is read as text (VARCHAR)
 * so ids keep their exact spelling and bad values can be reported by ingest, not by a DuckDB cast error.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { DataError } from '../../errors.js';
import { DuckSession, duckdbProblem, sqlIdentifier, sqlPath, sqlString } from './duckdb.js';

export const INPUT_FORMATS = ['csv', 'tsv', 'parquet', 'jsonl', 'recbole', 'peterrec'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

const FORMAT_BY_EXTENSION: Record<string, InputFormat> = {
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.parquet': 'parquet',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'jsonl',
  '.inter': 'recbole',
};

/**
 * The format implied by a file name (a trailing .gz or .zst is looked through: DuckDB decompresses those).
 * Any other extension (.txt, MovieLens's .data / .user) is read as delimited text with the delimiter sniffed.
 */
export function detectFormat(file: string): InputFormat {
  const uncompressed = file.replace(/\.(gz|zst)$/i, '');
  return FORMAT_BY_EXTENSION[extname(uncompressed).toLowerCase()] ?? 'csv';
}

/** Accepts a tab typed as the two characters backslash-t, which is what shells pass for '\t'. */
export function normalizeDelimiter(delimiter: string | undefined): string | undefined {
  if (delimiter === undefined) return undefined;
  if (delimiter === '\\t') return '\t';
  if (delimiter === '') throw new DataError('--delimiter must not be empty');
  return delimiter;
}

export interface TableReadOptions {
  format: InputFormat;
  /** Whether a delimited file's first line names the columns. */
  header: boolean;
  /** Column names in file order for a header-less delimited file. */
  names?: string[];
  delimiter?: string;
}

/** A readable table: its column names and a way to select some of them as text. */
export interface TableSource {
  file: string;
  format: InputFormat;
  /** Column names as the user refers to them (RecBole's `:type` suffixes removed). */
  columns: string[];
  /** Lines before the first data row, so a row index can be reported as a line number. */
  headerLines: number;
  /** A SQL relation with `columns[k]` of the file as text under the name `aliases[k]`, rows in file order. */
  selectAsText(picks: { alias: string; column: string }[]): string;
}

/** Where row `rowIndex` (0-based, data rows only) sits in the file, for error messages. */
export type RowLocator = (rowIndex: number) => string;

export function rowLocator(source: Pick<TableSource, 'format' | 'headerLines'>): RowLocator {
  const delimited = source.format === 'csv' || source.format === 'tsv' || source.format === 'recbole';
  return delimited ? (r) => `line ${r + 1 + source.headerLines}` : (r) => `row ${r + 1}`;
}

/** RecBole atomic files name columns `name:type` (token, token_seq, float, float_seq). */
const RECBOLE_TYPED_NAME = /^(.+):(token|token_seq|float|float_seq)$/;

/** The column of `source` that `wanted` refers to: an exact match first, else the only case-insensitive match. */
export function findColumn(source: TableSource, wanted: string): string | undefined {
  if (source.columns.includes(wanted)) return wanted;
  const folded = source.columns.filter((c) => c.toLowerCase() === wanted.toLowerCase());
  return folded.length === 1 ? folded[0] : undefined;
}

function delimitedRelation(file: string, opts: TableReadOptions, names: string[] | undefined): string {
  const args = [sqlPath(file), `header = ${opts.header}`, 'all_varchar = true'];
  const delimiter = opts.delimiter ?? (opts.format === 'tsv' || opts.format === 'recbole' ? '\t' : undefined);
  if (delimiter !== undefined) args.push(`delim = ${sqlString(delimiter)}`);
  // RecBole's own reader splits on tabs with no quoting, so a '"' inside a token is part of the token.
  if (opts.format === 'recbole') args.push("quote = ''", "escape = ''");
  if (names) args.push(`names = [${names.map(sqlString).join(', ')}]`);
  return `read_csv(${args.join(', ')})`;
}

async function describe(session: DuckSession, relation: string): Promise<string[]> {
  return (await session.rows(`DESCRIBE SELECT * FROM ${relation}`)).map((row) => String(row[0]));
}

function selectFrom(relation: string, actualName: (column: string) => string) {
  return (picks: { alias: string; column: string }[]): string => {
    const list = picks.map((p) => `CAST(${sqlIdentifier(actualName(p.column))} AS VARCHAR) AS ${sqlIdentifier(p.alias)}`);
    return `(SELECT ${list.join(', ')} FROM ${relation})`;
  };
}

async function openDelimited(session: DuckSession, file: string, opts: TableReadOptions): Promise<TableSource> {
  const found = await describe(session, delimitedRelation(file, opts, undefined));
  let relation = delimitedRelation(file, opts, undefined);
  let actual = found;
  if (opts.names) {
    if (opts.names.length !== found.length) {
      throw new DataError(
        `${file}: --columns names ${opts.names.length} columns (${opts.names.join(',')}) but the file has ${found.length} per line` +
          (opts.delimiter === undefined ? ' (set --delimiter if the sniffed one is wrong)' : ''),
      );
    }
    relation = delimitedRelation(file, opts, opts.names);
    actual = opts.names;
  }
  // Strip RecBole type suffixes for .inter files, and for any header where every name carries one.
  const typed = actual.map((c) => RECBOLE_TYPED_NAME.exec(c));
  const strip = opts.format === 'recbole' || typed.every((m) => m !== null);
  const columns = actual.map((c, k) => (strip && typed[k] ? typed[k]![1]! : c));
  const actualOf = new Map(columns.map((c, k) => [c, actual[k]!]));
  return {
    file,
    format: opts.format,
    columns,
    headerLines: opts.header ? 1 : 0,
    selectAsText: selectFrom(relation, (c) => actualOf.get(c) ?? c),
  };
}

async function openParquet(session: DuckSession, file: string, opts: TableReadOptions): Promise<TableSource> {
  const relation = `read_parquet(${sqlPath(file)})`;
  return { file, format: opts.format, columns: await describe(session, relation), headerLines: 0, selectAsText: selectFrom(relation, (c) => c) };
}

async function openJsonLines(session: DuckSession, file: string, opts: TableReadOptions): Promise<TableSource> {
  const columns = await describe(session, `read_json(${sqlPath(file)}, format = 'auto')`);
  return {
    file,
    format: opts.format,
    columns,
    headerLines: 0,
    // Reading the wanted keys as VARCHAR turns numbers into their digits and strings into their text, where a
    // cast of DuckDB's JSON type would keep the quotes of string ids.
    selectAsText: (picks) => {
      const types = picks.map((p) => `${sqlString(p.column)}: 'VARCHAR'`).join(', ');
      const list = picks.map((p) => `${sqlIdentifier(p.column)} AS ${sqlIdentifier(p.alias)}`).join(', ');
      return `(SELECT ${list} FROM read_json(${sqlPath(file)}, format = 'auto', columns = {${types}}))`;
    },
  };
}

/** Opens `file` as a table; a file DuckDB cannot read becomes a DataError naming the file and the problem. */
export async function openTableSource(session: DuckSession, file: string, opts: TableReadOptions): Promise<TableSource> {
  if (opts.format === 'peterrec') throw new Error('the PeterRec layout is not a table; use loadPeterRec');
  const tabular = opts.format === 'csv' || opts.format === 'tsv' || opts.format === 'recbole';
  if (!tabular && (opts.names || !opts.header)) {
    throw new DataError(`${file}: --columns and --no-header apply to delimited text, not ${opts.format} (its columns are named in the file)`);
  }
  try {
    if (tabular) return await openDelimited(session, file, opts);
    if (opts.format === 'parquet') return await openParquet(session, file, opts);
    return await openJsonLines(session, file, opts);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${file}: cannot read as ${opts.format}: ${duckdbProblem(err)}`);
  }
}

/**
 * A keyed side table (item text, item vectors, user attributes) must hold one row per key: the first repeated
 * key is an error naming its first row. `table` has the key in column `key` and keeps the file's row order.
 */
export async function refuseDuplicateKeys(session: DuckSession, table: string, key: string, source: TableSource, what: string): Promise<void> {
  const [duplicate] = await session.rows(
    `SELECT ${key}, count(*), min(rowid) FROM ${table} WHERE ${key} IS NOT NULL
     GROUP BY ${key} HAVING count(*) > 1 ORDER BY min(rowid) LIMIT 1`,
  );
  if (duplicate) {
    const [value, n, first] = duplicate as [string, number, number];
    throw new DataError(`${source.file} ${rowLocator(source)(first)}: ${what} ${JSON.stringify(value)} has ${n} rows; expected one per ${what}`);
  }
}

/** Text files must be UTF-8: DuckDB would otherwise stop at the first bad byte with a message about its reader. */
export function requireUtf8(file: string): void {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(file));
  } catch {
    throw new DataError(`${file}: not valid UTF-8 text`);
  }
}
