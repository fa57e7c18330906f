/**
 * From `raw(u, i, t, d)` to the dataset's arrays: filter rare items and short users, number users, items and
 * domains, and stream every user's items in time order into Int32Array / Uint8Array.
 *
 * Orders (all deterministic, independent of thread count):
 * - users: by raw id, shorter ids first, then bytewise ("shortlex": numeric ids without leading zeros come out
 *   in numeric order, "u2" before "u10");
 * - domains: by name, bytewise;
 * - items: by the lowest domain index the item occurs in (so each domain's items form one block of indices), then
 *   shortlex by raw id; indices start at 1 because 0 is padding;
 * - a user's interactions: by timestamp, ties (and logs without timestamps) in input order.
 *
 * Filters run once each, items first then users: an item needs `minItemInteractions` interactions in the input;
 * a user needs `minUserInteractions` interactions with the items that remain. Not iterated to a fixed point, so
 * an item can end below its threshold after short users are removed (one pass is what RecBole's and SASRec's
 * preprocessing do, and it keeps every kept user's count at or above its threshold, which the splits rely on).
 */
import { DataError } from '../../errors.js';
import type { DuckSession } from './duckdb.js';
import { parsedTimeSql } from './interactions.js';

export interface FilterThresholds {
  minUserInteractions: number;
  minItemInteractions: number;
}

export interface IndexCounts {
  inputRows: number;
  inputUsers: number;
  inputItems: number;
  users: number;
  items: number;
  interactions: number;
}

export interface IndexedArrays {
  users: string[];
  items: string[];
  domainNames: string[] | null;
  sequences: Int32Array;
  offsets: Int32Array;
  domains: Uint8Array | null;
}

const SHORTLEX = (column: string) => `length(${column}), ${column}`;

export async function filterAndIndex(session: DuckSession, file: string, thresholds: FilterThresholds, hasDomain: boolean): Promise<IndexCounts> {
  const { minUserInteractions, minItemInteractions } = thresholds;
  await session.run(`CREATE TEMP TABLE item_counts AS SELECT i, count(*) AS n FROM raw GROUP BY i`);
  await session.run(`CREATE TEMP TABLE frequent_items AS SELECT i FROM item_counts WHERE n >= ${minItemInteractions}`);
  await session.run(
    `CREATE TEMP TABLE user_idx AS
     SELECT u, n, CAST(row_number() OVER (ORDER BY ${SHORTLEX('u')}) - 1 AS INTEGER) AS idx
     FROM (SELECT u, count(*) AS n FROM raw SEMI JOIN frequent_items USING (i) GROUP BY u)
     WHERE n >= ${minUserInteractions}`,
  );
  const [counts] = await session.rows(
    `SELECT (SELECT count(*) FROM raw), (SELECT count(DISTINCT u) FROM raw), (SELECT count(*) FROM item_counts),
            (SELECT count(*) FROM user_idx), (SELECT coalesce(sum(n), 0) FROM user_idx)`,
  );
  const [inputRows, inputUsers, inputItems, users, interactions] = counts as number[];
  if (interactions === 0) {
    throw new DataError(
      `${file}: nothing left after filtering: all ${inputUsers} users have fewer than ${minUserInteractions} interactions` +
        (minItemInteractions > 1 ? ` with items that have at least ${minItemInteractions}` : '') +
        ' (see --min-user-interactions, --min-item-interactions)',
    );
  }
  // The interactions that survive both filters, with the user's index and the parsed timestamp.
  await session.run(
    `CREATE TEMP TABLE kept AS
     SELECT raw.rowid AS rn, user_idx.idx AS user_index, raw.i, ${parsedTimeSql('raw.t')} AS time, raw.d
     FROM raw JOIN user_idx USING (u) SEMI JOIN frequent_items USING (i)`,
  );
  await session.run('DROP TABLE raw');
  await session.run(
    hasDomain
      ? `CREATE TEMP TABLE domain_idx AS
         SELECT d, CAST(row_number() OVER (ORDER BY d) - 1 AS UTINYINT) AS idx FROM (SELECT DISTINCT d FROM kept)`
      : `CREATE TEMP TABLE domain_idx AS SELECT CAST(NULL AS VARCHAR) AS d, CAST(0 AS UTINYINT) AS idx`,
  );
  await session.run(
    `CREATE TEMP TABLE item_idx AS
     SELECT i, CAST(row_number() OVER (ORDER BY first_domain, ${SHORTLEX('i')}) AS INTEGER) AS idx
     FROM (SELECT i, min(domain_idx.idx) AS first_domain FROM kept LEFT JOIN domain_idx USING (d) GROUP BY i)`,
  );
  const [[items]] = (await session.rows('SELECT count(*) FROM item_idx')) as [[number]];
  return { inputRows: inputRows!, inputUsers: inputUsers!, inputItems: inputItems!, users: users!, items, interactions: interactions! };
}

export async function pullIndexedArrays(session: DuckSession, counts: IndexCounts, hasDomain: boolean): Promise<IndexedArrays> {
  const sequences = new Int32Array(counts.interactions);
  const domains = hasDomain ? new Uint8Array(counts.interactions) : null;
  const filled = await session.fillColumns(
    `SELECT item_idx.idx${hasDomain ? ', domain_idx.idx' : ''}
     FROM kept JOIN item_idx USING (i) ${hasDomain ? 'JOIN domain_idx USING (d)' : ''}
     ORDER BY kept.user_index, kept.time NULLS FIRST, kept.rn`,
    domains ? [sequences, domains] : [sequences],
  );
  if (filled !== counts.interactions) throw new Error(`internal: pulled ${filled} interactions, expected ${counts.interactions}`);

  const perUser = new Int32Array(counts.users);
  await session.fillColumns('SELECT CAST(n AS INTEGER) FROM user_idx ORDER BY idx', [perUser]);
  const offsets = new Int32Array(counts.users + 1);
  for (let u = 0; u < counts.users; u++) offsets[u + 1] = offsets[u]! + perUser[u]!;

  return {
    users: (await session.strings('SELECT u FROM user_idx ORDER BY idx')) as string[],
    items: (await session.strings('SELECT i FROM item_idx ORDER BY idx')) as string[],
    domainNames: hasDomain ? ((await session.strings('SELECT d FROM domain_idx ORDER BY idx')) as string[]) : null,
    sequences,
    offsets,
    domains,
  };
}
