/** Data in: a synthetic click log with planted structure, and any interaction log turned into a dataset directory. */
import { ingest as ingestLog, type IngestOptions, type IngestProgress, type IngestSummary } from '../data/ingest.js';
import { writeSynthetic, type SynthOptions, type SynthSummary } from '../data/synth.js';

export type { IngestOptions, IngestProgress, IngestSummary, SynthOptions, SynthSummary };

/**
 * Writes a synthetic click log to `out`: `interactions.csv` (user, item, timestamp, domain), `users.csv` (gender,
 * age, life_stage derived from each user's latent taste) and `synth.json`. The same seed gives the same bytes.
 *
 * @param options - `out` and any of users (2000), items per domain (1000), domains (2), seed (1), meanLength (20),
 *   overlap (0.75).
 * @returns counts of what was written.
 * @throws DataError for an invalid option or an `out` that holds something other than a synthetic log.
 */
export async function synth(options: { out: string } & Partial<SynthOptions>): Promise<SynthSummary> {
  const { out, ...rest } = options;
  return writeSynthetic(out, rest);
}

/**
 * Reads an interaction log (CSV, TSV, Parquet, JSON lines, RecBole `.inter`, PeterRec CSV) through DuckDB and
 * writes a dataset directory at `out` (replaced atomically; nothing is written on error).
 *
 * @param options - `input` (the log), `out`, and optionally columns, filters (minUserInteractions 2,
 *   minItemInteractions 1), an `attributes` table, item text or item vectors — as `graftrec ingest`'s flags — and
 *   `onProgress`, called with each step and how far DuckDB is through it.
 * @returns the counts of users, items and interactions kept and dropped.
 * @throws DataError naming the file and the problem for bad input.
 */
export async function ingest(options: IngestOptions & { out: string }): Promise<IngestSummary> {
  return ingestLog(options);
}
