import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runTrainBench } from '../../bench/train.js';
import { saveDataset } from '../../src/data/dataset.js';
import { tokenRows, tokenizerSpec } from '../../src/data/text/tokenize.js';
import { datasetFromSequences, tempDir } from '../helpers/datasets.js';

/** Users of very different lengths, as in real logs: most short, a few long. */
function unevenDataset(): ReturnType<typeof datasetFromSequences> {
  const lengths = Array.from({ length: 60 }, (_, u) => (u % 10 === 0 ? 30 : 4 + (u % 3)));
  return datasetFromSequences(lengths.map((n, u) => Array.from({ length: n }, (_, t) => 1 + ((u * 7 + t * 3) % 40))), 40);
}

const shape = { items: 0, dim: 8, blocks: 2, layers: 1, heads: 2, dropout: 0.2, batch: 8, maxLen: 20, negatives: 0, steps: 6, warmup: 1, seed: 1, batchTokens: 0 };

describe('graftrec bench train (smoke, tiny settings)', () => {
  it('--data times real batches: the dataset vocabulary, real items/s and the share of padding', async () => {
    const dir = tempDir();
    await saveDataset(dir, unevenDataset());
    const records: Record<string, any>[] = [];
    await runTrainBench({ ...shape, data: dir, lengthBuckets: true }, (r) => records.push(r));
    await runTrainBench({ ...shape, data: dir, lengthBuckets: false }, (r) => records.push(r));
    const [bucketed, random] = records;
    assert.equal(bucketed!.items, 40);
    assert.ok(bucketed!.realItemsPerSec > 0 && bucketed!.seqPerSec > 0 && bucketed!.msPerStep > 0, JSON.stringify(bucketed));
    assert.ok(bucketed!.paddingShare >= 0 && bucketed!.paddingShare < random!.paddingShare, `${bucketed!.paddingShare} vs ${random!.paddingShare}`);
  });

  it('without --data: random full-length sequences, no padding', async () => {
    const records: Record<string, any>[] = [];
    await runTrainBench({ ...shape, items: 50, lengthBuckets: true }, (r) => records.push(r));
    assert.equal(records[0]!.paddingShare, 0);
    // every position of every sequence is predicted (both rates are rounded to 0.1)
    assert.ok(Math.abs(records[0]!.realItemsPerSec - records[0]!.seqPerSec * 20) <= 2, JSON.stringify(records[0]));
  });

  it('--backbone sasrec times SASRec steps at the requested shape', async () => {
    const records: Record<string, any>[] = [];
    await runTrainBench({ ...shape, backbone: 'sasrec', items: 50, lengthBuckets: true }, (r) => records.push(r));
    assert.equal(records[0]!.backbone, 'sasrec');
    assert.equal(records[0]!.dim, 8);
    assert.ok(records[0]!.seqPerSec > 0 && records[0]!.msPerStep > 0, JSON.stringify(records[0]));
  });

  it('--backbone bert4rec times masked-item steps: only the masked share of the positions is predicted', async () => {
    const records: Record<string, any>[] = [];
    await runTrainBench({ ...shape, backbone: 'bert4rec', items: 50, lengthBuckets: true }, (r) => records.push(r));
    const r = records[0]!;
    assert.equal(r.backbone, 'bert4rec');
    assert.ok(r.seqPerSec > 0 && r.msPerStep > 0, JSON.stringify(r));
    // Mask probability 0.3: far fewer predicted positions than a causal step's 20 per sequence.
    assert.ok(r.realItemsPerSec < 0.6 * r.seqPerSec * 20 && r.realItemsPerSec > 0.1 * r.seqPerSec * 20, JSON.stringify(r));
  });

  it('--item-encoder text times steps of a text model on a dataset with item text, and is refused without one', async () => {
    const plain = unevenDataset();
    const texts = plain.items.map((_, i) => `product ${i % 5} colour ${i % 3}`);
    const dir = tempDir();
    await saveDataset(dir, {
      ...plain, meta: { ...plain.meta, itemText: { columns: ['title'], tokenizer: tokenizerSpec(256), itemsWithoutText: 0 } },
      itemText: { texts, tokens: tokenRows(['', ...texts], tokenizerSpec(256)) },
    });
    const records: Record<string, any>[] = [];
    await runTrainBench({ ...shape, data: dir, lengthBuckets: false, itemEncoder: 'text' }, (r) => records.push(r));
    assert.equal(records[0]!.itemEncoder, 'text');
    assert.ok(records[0]!.realItemsPerSec > 0, JSON.stringify(records[0]));
    await assert.rejects(runTrainBench({ ...shape, items: 50, lengthBuckets: false, itemEncoder: 'text' }, () => {}), /needs --data with item text/);
  });
});
