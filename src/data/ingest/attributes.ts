/**
 * A user attribute table (MovieLens u.user, a RecBole .user file, any CSV/TSV/Parquet/JSON-lines table) joined
 * onto the ingested users: one text value per kept user and column, null where the user has no row or the
 * field is empty. The user key column itself is not stored as an attribute.
 */
import { DataError } from '../../errors.js';
import { DuckSession, sqlIdentifier } from './duckdb.js';
import { detectFormat, findColumn, openTableSource, refuseDuplicateKeys } from './formats.js';

export interface AttributeOptions {
  file: string;
  /** Column names in file order; given, the file is read as having no header. */
  columns?: string[];
  delimiter?: string;
  /** The key column's name; when the table has no column of that name, its first column is the key. */
  userColumn: string;
}

export interface UserAttributes {
  names: string[];
  values: Record<string, (string | null)[]>;
  /** Kept users with no row in the table. */
  usersWithoutRow: number;
}

/** Needs the `user_idx(u, idx)` table of the ingested users. */
export async function joinUserAttributes(session: DuckSession, opts: AttributeOptions): Promise<UserAttributes> {
  const source = await openTableSource(session, opts.file, {
    format: detectFormat(opts.file),
    header: opts.columns === undefined,
    ...(opts.columns !== undefined ? { names: opts.columns } : {}),
    ...(opts.delimiter !== undefined ? { delimiter: opts.delimiter } : {}),
  });
  const key = findColumn(source, opts.userColumn) ?? source.columns[0]!;
  const names = source.columns.filter((c) => c !== key);
  if (names.length === 0) throw new DataError(`${opts.file}: no attribute columns besides the user column '${key}'`);

  // Aliases a0, a1, … keep arbitrary column names out of the join's namespace.
  const picks = [{ alias: 'user_key', column: key }, ...names.map((column, k) => ({ alias: `a${k}`, column }))];
  await session.run(`CREATE TEMP TABLE user_attributes AS SELECT * FROM ${source.selectAsText(picks)}`);

  await refuseDuplicateKeys(session, 'user_attributes', 'user_key', source, 'user');

  const values: Record<string, (string | null)[]> = {};
  for (const [k, name] of names.entries()) {
    values[name] = await session.strings(
      `SELECT a.${sqlIdentifier(`a${k}`)} FROM user_idx LEFT JOIN user_attributes a ON a.user_key = user_idx.u ORDER BY user_idx.idx`,
    );
  }
  const [[usersWithoutRow]] = (await session.rows(
    'SELECT count(*) FROM user_idx ANTI JOIN user_attributes a ON a.user_key = user_idx.u',
  )) as [[number]];
  return { names, values, usersWithoutRow };
}
