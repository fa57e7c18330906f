/**
 * Loads an interaction table into DuckDB as `raw(u, i, t, d)` (all text, rows in file order, so `rowid` is the
 * input order) and rejects unusable values with the first offending line.
 */
import { DataError } from '../../errors.js';
import type { InteractionColumns } from './columns.js';
import type { DuckSession } from './duckdb.js';
import type { RowLocator, TableSource } from './formats.js';

/**
 * A timestamp as seconds: a number (integer or float, any epoch unit the file uses) or a date-time string.
 * NULL when the text is neither.
 */
export function parsedTimeSql(column: string): string {
  return `coalesce(TRY_CAST(${column} AS DOUBLE), epoch(TRY_CAST(${column} AS TIMESTAMP)))`;
}

/** Most domains a dataset can hold: domain indices are stored as one byte per interaction. */
const MAX_DOMAINS = 256;

export async function loadInteractionTable(session: DuckSession, source: TableSource, columns: InteractionColumns): Promise<void> {
  const picks = [
    { alias: 'u', column: columns.user },
    { alias: 'i', column: columns.item },
    ...(columns.time !== undefined ? [{ alias: 't', column: columns.time }] : []),
    ...(columns.domain !== undefined ? [{ alias: 'd', column: columns.domain }] : []),
  ];
  const t = columns.time !== undefined ? 't' : 'CAST(NULL AS VARCHAR) AS t';
  const d = columns.domain !== undefined ? 'd' : 'CAST(NULL AS VARCHAR) AS d';
  await session.run(`CREATE TEMP TABLE raw AS SELECT u, i, ${t}, ${d} FROM ${source.selectAsText(picks)}`);
}

function quoteValue(value: unknown): string {
  const text = String(value);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** The first row matching `badRowSql` (a predicate over raw) and how many match, in one pass. */
async function firstBad(session: DuckSession, badRowSql: string, valueSql: string): Promise<{ count: number; row: number; value: unknown } | null> {
  const [row] = await session.rows(
    `SELECT count(*), min(rowid), arg_min(${valueSql}, rowid) FROM raw WHERE ${badRowSql}`,
  );
  const count = Number(row![0]);
  return count === 0 ? null : { count, row: Number(row![1]), value: row![2] };
}

function more(count: number): string {
  return count > 1 ? ` (${count - 1} more like it)` : '';
}

/**
 * Empty input, empty ids, timestamps that are not numbers or date-times, empty domains and too many domains each
 * become a DataError naming the file, the column and the first offending line.
 */
export async function validateInteractionTable(session: DuckSession, file: string, columns: InteractionColumns, locate: RowLocator): Promise<number> {
  const [[rows]] = (await session.rows('SELECT count(*) FROM raw')) as [[number]];
  if (rows === 0) throw new DataError(`${file}: no interactions (the file has no data rows)`);

  for (const [alias, column] of [['u', columns.user], ['i', columns.item]] as const) {
    const bad = await firstBad(session, `${alias} IS NULL OR trim(${alias}) = ''`, alias);
    if (bad) throw new DataError(`${file} ${locate(bad.row)}: empty id in column '${column}'${more(bad.count)}`);
  }
  if (columns.time !== undefined) {
    const bad = await firstBad(session, `NOT coalesce(isfinite(${parsedTimeSql('t')}), false)`, 't');
    if (bad) {
      const shown = bad.value === null ? 'an empty value' : quoteValue(bad.value);
      throw new DataError(
        `${file} ${locate(bad.row)}: timestamp column '${columns.time}' has ${shown}, which is not a number or a date-time${more(bad.count)}`,
      );
    }
  }
  if (columns.domain !== undefined) {
    const bad = await firstBad(session, `d IS NULL OR trim(d) = ''`, 'd');
    if (bad) throw new DataError(`${file} ${locate(bad.row)}: empty domain in column '${columns.domain}'${more(bad.count)}`);
    const [[domains]] = (await session.rows('SELECT count(DISTINCT d) FROM raw')) as [[number]];
    if (domains > MAX_DOMAINS) {
      throw new DataError(`${file}: column '${columns.domain}' has ${domains} distinct domains; at most ${MAX_DOMAINS} are supported`);
    }
  }
  return rows;
}
