/**
 * Ingest benchmark: writes a synthetic click log (user,item,timestamp CSV with a header; skewed item popularity,
 * shuffled timestamps so the sort has real work) to a temp dir, times `ingest` on it end to end (read, filter,
 * number, sort, pull, write the dataset directory), prints one JSON object and deletes everything it wrote.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { ingest } from '../src/data/ingest.js';
import type { Emit } from './timing.js';

export interface IngestBenchOptions {
  interactions: number;
}

/** xorshift32: fast and good enough to make a log look irregular; the bench needs no statistical quality. */
function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Writes the log in large string chunks (per-line writes would dominate the bench's own run time). */
export async function writeSyntheticLog(path: string, interactions: number): Promise<void> {
  const users = Math.max(1, Math.round(interactions / 50));
  const items = Math.max(1, Math.round(interactions / 100));
  const random = xorshift32(20240601);
  const out = createWriteStream(path);
  const linesPerChunk = 200_000;
  out.write('user,item,timestamp\n');
  for (let start = 0; start < interactions; start += linesPerChunk) {
    let chunk = '';
    for (let r = start; r < Math.min(interactions, start + linesPerChunk); r++) {
      const user = Math.floor(random() * users);
      const item = Math.floor(random() * random() * items); // popularity skewed towards low ids
      const timestamp = 1_500_000_000 + Math.floor(random() * 100_000_000);
      chunk += user + ',' + item + ',' + timestamp + '\n';
    }
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

export async function runIngestBench(emit: Emit, options: IngestBenchOptions): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'graftrec-bench-ingest-'));
  try {
    const log = join(dir, 'log.csv');
    const generateStart = performance.now();
    await writeSyntheticLog(log, options.interactions);
    const generateSeconds = (performance.now() - generateStart) / 1000;
    const summary = await ingest({ input: log, out: join(dir, 'dataset') });
    emit({
      bench: 'ingest',
      interactions: summary.inputRows,
      seconds: Number(summary.seconds.toFixed(3)),
      interactionsPerSec: Math.round(summary.inputRows / summary.seconds),
      users: summary.users,
      items: summary.items,
      keptInteractions: summary.interactions,
      generateSeconds: Number(generateSeconds.toFixed(3)),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
