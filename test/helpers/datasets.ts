import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATASET_FORMAT, DATASET_VERSION, Dataset, saveDataset } from '../../src/data/dataset.js';

export function tempDir(prefix = 'graftrec-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
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
