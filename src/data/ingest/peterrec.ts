/**
 * The PeterRec CSV layout: one user per line, `source items, (empty field), target items`, all comma-separated,
 * `0` as padding. It becomes `raw(u, i, t, d)` like any other log: user id = line number (1-based), the source
 * items in domain "source" then the target items in domain "target", in line order.
 *
 * PeterRec numbers source and target items in separate id spaces, so item ids are qualified with their domain
 * ("source:17", "target:17") to keep the two vocabularies apart.
 */
import { DataError } from '../../errors.js';
import { DuckSession, duckdbProblem, sqlPath } from './duckdb.js';

export const PETERREC_DOMAINS = ['source', 'target'] as const;

export async function loadPeterRec(session: DuckSession, file: string): Promise<void> {
  try {
    // A NUL delimiter never occurs in text, so each line arrives whole as one column.
    await session.run(
      `CREATE TEMP TABLE peterrec_lines AS SELECT string_split(trim(line, ' \t\r'), ',') AS fields
       FROM read_csv(${sqlPath(file)}, columns = {'line': 'VARCHAR'}, header = false, delim = '\\0',
                     quote = '', escape = '', auto_detect = false)`,
    );
  } catch (err) {
    throw new DataError(`${file}: cannot read as peterrec: ${duckdbProblem(err)}`);
  }
  const [bad] = await session.rows(
    `SELECT rowid, len(list_filter(fields, f -> f = '')) AS empty_fields FROM peterrec_lines
     WHERE fields <> [''] AND len(list_filter(fields, f -> f = '')) <> 1 ORDER BY rowid LIMIT 1`,
  );
  if (bad) {
    const [row, empty] = bad as [number, number];
    const problem = empty === 0 ? 'no empty field between source and target items' : `${empty} empty fields, expected exactly one`;
    throw new DataError(`${file} line ${row + 1}: ${problem} (PeterRec layout: source items, empty field, target items)`);
  }
  await session.run(
    `CREATE TEMP TABLE raw AS
     SELECT CAST(line_index + 1 AS VARCHAR) AS u,
            (CASE WHEN pos < separator THEN 'source:' ELSE 'target:' END) || field AS i,
            CAST(NULL AS VARCHAR) AS t,
            CASE WHEN pos < separator THEN 'source' ELSE 'target' END AS d
     FROM (SELECT rowid AS line_index, unnest(fields) AS field, unnest(generate_series(1, len(fields))) AS pos,
                  list_position(fields, '') AS separator
           FROM peterrec_lines WHERE fields <> [''])
     WHERE pos <> separator AND field <> '0'
     ORDER BY line_index, pos`,
  );
  await session.run('DROP TABLE peterrec_lines');
}
