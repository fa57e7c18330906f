/**
 * A short-lived in-memory DuckDB used by ingest: it does the parsing, grouping, ranking and sorting, and hands
 * back plain columns. Nothing else in graftrec talks to DuckDB.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBConnection, DuckDBInstance, quotedIdentifier, quotedString } from '@duckdb/node-api';

/** A SQL string literal; the only way a file path or other user text enters SQL. */
export const sqlString: (text: string) => string = quotedString;
/**
 * A file path as a SQL literal for DuckDB's readers, which expand `*`, `?` and `[...]` as globs: each of those
 * characters is wrapped in a one-character class so the path names exactly one file.
 */
export function sqlPath(file: string): string {
  return quotedString(file.replace(/[*?[]/g, (c) => `[${c}]`));
}
/** A SQL identifier (double-quoted, inner quotes doubled); the only way a column name enters SQL. */
export const sqlIdentifier: (name: string) => string = quotedIdentifier;

/**
 * DuckDB's error messages run over many lines (the failing line, possible fixes, the sniffer's settings). Keep the
 * lines that state the problem, joined into one, so the CLI can print one clear line.
 */
export function duckdbProblem(err: unknown): string {
  const lines = String((err as Error).message ?? err).split('\n');
  const kept: string[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('Possible fixes') || line.startsWith('LINE ')) break;
    if (line.startsWith('Original Line')) continue;
    kept.push(line);
  }
  return kept.join('; ') || 'unknown DuckDB error';
}

export type SqlRow = unknown[];

/** How often a watched session asks DuckDB how far the running statement is. */
const PROGRESS_POLL_MS = 100;

export class DuckSession {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly spillDir: string,
    private readonly onProgress: ((percent: number) => void) | null,
  ) {}

  /**
   * @param options - onProgress: called while a statement runs with DuckDB's estimate of how far it is (0–100,
   *   from the bytes its readers have consumed; only statements that run long enough to measure report).
   */
  static async open(options: { onProgress?: (percent: number) => void } = {}): Promise<DuckSession> {
    // Spill files go to a private temp dir (DuckDB's default is ./.tmp under the caller's working directory).
    const spillDir = await mkdtemp(join(tmpdir(), 'graftrec-duckdb-'));
    const instance = await DuckDBInstance.create(':memory:', {
      temp_directory: spillDir,
      // Ingest must work offline; csv, parquet and json readers are built into the bundled binary.
      autoinstall_known_extensions: 'false',
      // Keeps CREATE TABLE AS in file order, so rowid is the input order that breaks timestamp ties.
      preserve_insertion_order: 'true',
    });
    const connection = await instance.connect();
    if (options.onProgress) {
      // DuckDB measures a statement's progress only with its progress bar on; its own printing stays off.
      await connection.run('SET enable_progress_bar = true');
      await connection.run('SET enable_progress_bar_print = false');
    }
    return new DuckSession(instance, connection, spillDir, options.onProgress ?? null);
  }

  /** `work` (one statement), with its progress polled and reported while it runs when the session was opened to. */
  private async watched<T>(work: () => Promise<T>): Promise<T> {
    if (!this.onProgress) return work();
    const timer = setInterval(() => {
      const { percentage } = this.connection.progress;
      // -1 until DuckDB has an estimate.
      if (percentage >= 0) this.onProgress!(Math.min(100, percentage));
    }, PROGRESS_POLL_MS);
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  async run(sql: string): Promise<void> {
    await this.watched(() => this.connection.run(sql));
  }

  /** All rows of a small result (counts, vocabularies, a few bad examples), with BIGINTs as numbers. */
  async rows(sql: string): Promise<SqlRow[]> {
    const reader = await this.watched(() => this.connection.runAndReadAll(sql));
    return reader.getRows().map((row) => row.map((v) => (typeof v === 'bigint' ? Number(v) : v)));
  }

  /** The first column of a result as strings (nulls kept as null): vocabularies and attribute values. */
  async strings(sql: string): Promise<(string | null)[]> {
    return (await this.rows(sql)).map((row) => (row[0] === null || row[0] === undefined ? null : String(row[0])));
  }

  /**
   * Streams a large result chunk by chunk into preallocated typed arrays, one per column, without building a JS
   * object per row. `columns[k]` receives result column k; every value must be non-null and fit the array type.
   */
  async fillColumns(sql: string, columns: (Int32Array | Uint8Array)[]): Promise<number> {
    return this.watched(() => this.fill(sql, columns));
  }

  private async fill(sql: string, columns: (Int32Array | Uint8Array)[]): Promise<number> {
    const result = await this.connection.stream(sql);
    let filled = 0;
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const n = chunk.rowCount;
      for (let c = 0; c < columns.length; c++) {
        const target = columns[c]!;
        if (filled + n > target.length) throw new Error(`result has more than ${target.length} rows`);
        const vector = chunk.getColumnVector(c);
        for (let r = 0; r < n; r++) target[filled + r] = vector.getItem(r) as number;
      }
      filled += n;
    }
    return filled;
  }

  async close(): Promise<void> {
    this.connection.closeSync();
    this.instance.closeSync();
    await rm(this.spillDir, { recursive: true, force: true });
  }
}
