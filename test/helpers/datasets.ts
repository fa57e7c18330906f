import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATASET_FORMAT, DATASET_VERSION, Dataset, saveDataset } from '../../src/data/dataset.js';
import { Rng } from '../../src/tensor/index.js';

const made: string[] = [];

/**
 * A new directory under the system's temporary directory, removed when the test process exits (each test file runs
 * in a process of its own), so a run of the suite leaves nothing behind. GRAFTREC_KEEP_TEST_DIRS=1 keeps them, to
 * look at what a failing test wrote.
 */
export function tempDir(prefix = 'graftrec-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (made.length === 0 && !process.env.GRAFTREC_KEEP_TEST_DIRS) {
    process.once('exit', () => {
      for (const d of made) rmSync(d, { recursive: true, force: true });
    });
  }
  made.push(dir);
  return dir;
}

export function datasetFromSequences(sequences: number[][], numItems: number): Dataset {
  const offsets = [0];
  for (const s of sequences) offsets.push(offsets[offsets.length - 1]! + s.length);
  return {
    meta: {
      format: DATASET_FORMAT, version: DATASET_VERSION, numUsers: sequences.length, numItems,
      numInteractions: offsets[offsets.length - 1]!, domains: null, attributes: [], source: { test: true },
    },
    items: Array.from({ length: numItems }, (_, i) => `i${i + 1}`),
    users: sequences.map((_, u) => `u${u}`),
    sequences: Int32Array.from(sequences.flat()),
    offsets: Int32Array.from(offsets),
    domains: null,
    attributes: {},
  };
}

/**
 * Users walk a cycle of items with a user-specific stride: item t+1 follows item t deterministically given the
 * last two items, so a sequential model learns it quickly while popularity stays near chance.
 */
export function cyclicSequences(users: number, items: number, length: number): number[][] {
  return Array.from({ length: users }, (_, u) => {
    const stride = 1 + (u % 3);
    const start = (u * 7) % items;
    return Array.from({ length: length + (u % 4) }, (_, t) => ((start + t * stride) % items) + 1);
  });
}

export async function savedCyclicDataset(users = 120, items = 30, length = 12): Promise<string> {
  const dir = join(tempDir(), 'ds');
  await saveDataset(dir, datasetFromSequences(cyclicSequences(users, items, length), items));
  return dir;
}

/**
 * Users whose trait (user index mod 2) shows only across the whole sequence. Items sit in `clusters` clusters of
 * two types with `perType` items each; a user walks the clusters in a ring (next cluster = this one + 1, with
 * probability `stay`, else a random one), so the next item's cluster follows from the current item alone. In each
 * cluster the user picks an item of their trait's type with probability `tilt`. Predicting the next item needs
 * the current cluster; telling the trait needs the type balance over many items.
 */
export function traitSequences(users: number, length: number, seed: number,
  shape = { clusters: 10, perType: 5, tilt: 0.7, stay: 0.9 }): { sequences: number[][]; traits: number[]; numItems: number } {
  const { clusters, perType, tilt, stay } = shape;
  const rng = new Rng(seed);
  const traits = Array.from({ length: users }, (_, u) => u % 2);
  const sequences = traits.map((trait) => {
    let cluster = rng.int(0, clusters);
    return Array.from({ length }, () => {
      const type = rng.uniform() < tilt ? trait : 1 - trait;
      const item = (cluster * 2 + type) * perType + rng.int(0, perType) + 1;
      cluster = rng.uniform() < stay ? (cluster + 1) % clusters : rng.int(0, clusters);
      return item;
    });
  });
  return { sequences, traits, numItems: clusters * 2 * perType };
}
