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

/** One vector of `dim` floats per id (the library's embedUsers / embedItems answer). */
export interface IdVectors {
  ids: readonly string[];
  dim: number;
  vectors: readonly Float32Array[];
}

export async function writeVectorsParquet(file: string, idColumn: 'item' | 'user', v: IdVectors,
  options: { overwrite?: boolean } = {}): Promise<void> {
  if (v.vectors.length !== v.ids.length || v.vectors.some((x) => x.length !== v.dim)) throw new Error(`internal: ${v.vectors.length} vectors for ${v.ids.length} ids of ${v.dim}`);
  refuseExistingFile(file, options.overwrite ?? false);
  const scratch = await mkdtemp(join(tmpdir(), 'graftrec-vectors-'));
  const session = await DuckSession.open();
  try {
    const lines = v.ids.map((id, i) => JSON.stringify({ id, vector: Array.from(v.vectors[i]!) }));
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
