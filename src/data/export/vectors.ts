/**
 * Vectors out as Parquet (through DuckDB): one row per id, the id column (`item` or `user`, VARCHAR) and `vector` (FLOAT[]), the shape
 * vector databases and notebooks read, and the shape `ingest --item-features` reads back. Written to a temporary
 * sibling and renamed, so a failure leaves nothing at the destination; an existing file is replaced only when
 * `overwrite` is set.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { refuseExistingFile, writeFileAtomic } from '../../io/atomic.js';
import { DuckSession, sqlPath } from '../ingest/duckdb.js';

export async function writeVectorsParquet(file: string, idColumn: 'item' | 'user', ids: readonly string[], vectors: Float32Array,
  dim: number, options: { overwrite?: boolean } = {}): Promise<void> {
  if (vectors.length !== ids.length * dim) throw new Error(`internal: ${vectors.length} floats for ${ids.length} ids of ${dim}`);
  refuseExistingFile(file, options.overwrite ?? false);
  const scratch = await mkdtemp(join(tmpdir(), 'graftrec-vectors-'));
  const session = await DuckSession.open();
  try {
    const lines = ids.map((id, i) => JSON.stringify({ id, vector: Array.from(vectors.subarray(i * dim, (i + 1) * dim)) }));
    const jsonl = join(scratch, 'vectors.jsonl');
    await writeFile(jsonl, lines.join('\n') + '\n');
    const parquet = join(scratch, 'vectors.parquet');
    await session.run(`COPY (SELECT id::VARCHAR AS ${idColumn}, vector::FLOAT[] AS vector FROM read_json(${sqlPath(jsonl)}, format = 'newline_delimited', columns = {id: 'VARCHAR', vector: 'DOUBLE[]'}))
      TO ${sqlPath(parquet)} (FORMAT parquet)`);
    await writeFileAtomic(file, await readFile(parquet));
  } finally {
    await session.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
