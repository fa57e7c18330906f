import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { datasetHash, saveDataset } from '../../src/data/dataset.js';
import { DataError } from '../../src/errors.js';
import { datasetFromSequences, tempDir } from '../helpers/datasets.js';

async function saved(sequences: number[][], numItems: number, rename = false): Promise<string> {
  const ds = datasetFromSequences(sequences, numItems);
  if (rename) ds.items = ds.items.map((id) => `other-${id}`);
  const dir = join(tempDir(), 'ds');
  await saveDataset(dir, ds);
  return dir;
}

describe('dataset hash (provenance of the data)', () => {
  const base = [[1, 2, 3], [3, 4, 5, 1], [2, 5]];

  it('is the same for the same interactions, saved again or under renamed item ids', async () => {
    const h = await datasetHash(await saved(base, 5));
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(await datasetHash(await saved(base, 5)), h);
    assert.equal(await datasetHash(await saved(base, 5, true)), h);
  });

  it('changes when one interaction changes, when users split differently, or when a file is edited', async () => {
    const h = await datasetHash(await saved(base, 5));
    assert.notEqual(await datasetHash(await saved([[1, 2, 3], [3, 4, 5, 2], [2, 5]], 5)), h);
    // The same concatenated sequence, another boundary between users: only offsets differ.
    assert.notEqual(await datasetHash(await saved([[1, 2], [3, 3, 4, 5, 1], [2, 5]], 5)), h);
    const dir = await saved(base, 5);
    writeFileSync(join(dir, 'sequences.i32'), new Uint8Array(Int32Array.from([1, 2, 3, 3, 4, 5, 1, 2, 4]).buffer));
    assert.notEqual(await datasetHash(dir), h);
  });

  it('names the missing file of a directory that is not a dataset', async () => {
    await assert.rejects(datasetHash(tempDir()), (err: Error) => err instanceof DataError && /offsets\.i32: missing/.test(err.message));
  });
});
