import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { itemBagRows } from '../../src/baselines/bag-of-items.js';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { Dataset, saveDataset, userSequence } from '../../src/data/dataset.js';
import { inputRows } from '../../src/models/input-rows.js';
import { Rng, noGrad } from '../../src/tensor/index.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { ClassifyOptions, finetuneClassifier, predictProbabilities } from '../../src/transfer/classify.js';
import { taskHead } from '../../src/transfer/head.js';
import { baseFingerprint, loadPatchDir, readTaskCard, writePatchDir } from '../../src/transfer/patchfile.js';
import { predictTask } from '../../src/transfer/predict.js';
import { TUNING_DEFAULTS } from '../../src/transfer/task.js';
import { taskCardFor } from '../../src/transfer/tasks.js';
import { datasetFromSequences, tempDir } from '../helpers/datasets.js';

/**
 * Users whose label shows only in an item far back in their history: trait-1 users touched item 1 early on,
 * trait-0 users item 2; the last 10 items are random fillers (3..40) for both. A head reading the last window
 * of the network cannot see the label; a head with an item bag (the whole history) can.
 */
function earlyItemDataset(users: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const traits = Array.from({ length: users }, (_, u) => u % 2);
  const sequences = traits.map((trait) => [
    ...Array.from({ length: 3 }, () => rng.int(3, 41)), trait === 1 ? 1 : 2,
    ...Array.from({ length: 16 }, () => rng.int(3, 41)),
  ]);
  const ds = datasetFromSequences(sequences, 40);
  ds.meta.attributes = ['trait'];
  ds.attributes = { trait: traits.map((t) => (t === 1 ? 'yes' : 'no')) };
  return ds;
}

let data: Dataset;
let modelDir: string;

before(async () => {
  const root = tempDir();
  data = earlyItemDataset(400, 5);
  await saveDataset(join(root, 'ds'), data);
  modelDir = join(root, 'model');
  await pretrain({
    data: join(root, 'ds'), out: modelDir, model: { ...MODEL_DEFAULTS, dim: 16, blocks: 2, maxLen: 10 },
    train: { ...TRAIN_DEFAULTS, epochs: 1, batch: 64, lr: 0.003 },
  });
});

async function run(itemBag: boolean, over: Partial<ClassifyOptions> = {}) {
  const { model } = await loadModelDir(modelDir);
  return finetuneClassifier({
    ...TUNING_DEFAULTS, reading: { pooling: 'last', windows: 1, itemBag }, model, dataset: data, datasetName: 'early',
    label: 'trait', bins: null, strategy: 'fine-cls', insertion: 'serial-each-conv', epochs: 30, batch: 32, lr: 0.01,
    dropout: 0, patience: 5, testFraction: 0.25, seed: 1, ...over,
  });
}

describe('item bag in the task head', () => {
  it('bag rows: each distinct item once, weight 1/sqrt(distinct items), offsets per history', () => {
    const rows = itemBagRows([Int32Array.from([3, 1, 3, 2]), Int32Array.from([]), Int32Array.from([5])], 6);
    assert.deepEqual(Array.from(rows.offsets), [0, 3, 3, 4]);
    assert.deepEqual(Array.from(rows.indices), [1, 2, 3, 5]);
    const w = 1 / Math.sqrt(3);
    assert.deepEqual(Array.from(rows.weights), [w, w, w, 1].map(Math.fround));
  });

  it('adds the weighted table rows of the history\'s items to the network reading, nothing of other items', async () => {
    const { model } = await loadModelDir(modelDir);
    const dim = model.config.dim;
    const reading = { pooling: 'last' as const, windows: 1 };
    const plain = taskHead(2, dim, new Rng(1), { reading });
    const bagged = taskHead(2, dim, new Rng(1), { reading: { ...reading, itemBag: true }, inputRows: inputRows(model.config) });
    assert.equal(bagged.itemBag!.shape[0], inputRows(model.config));
    assert.ok(bagged.parameters().includes(bagged.itemBag!));
    const history = Int32Array.from([4, 7, 4]);
    bagged.itemBag!.data.fill(0.5, 4 * dim, 5 * dim); // item 4
    bagged.itemBag!.data.fill(9, 8 * dim, 9 * dim); // item 8: not in the history
    bagged.itemBag!.data[7 * dim] = 2; // item 7, channel 0
    const [a, b] = [plain.encode(model, [history]), bagged.encode(model, [history])];
    const w = 1 / Math.sqrt(2);
    for (let c = 0; c < dim; c++) {
      const expected = a[c]! + w * (0.5 + (c === 0 ? 2 : 0));
      assert.ok(Math.abs(b[c]! - expected) < 1e-5, `channel ${c}: ${b[c]} vs ${expected}`);
    }
    // The graph path (training) computes the same vectors as the batched encoder.
    const graph = noGrad(() => Float32Array.from(bagged.userVectors(model, [history]).data));
    assert.deepEqual(graph, b);
  });

  it('reads a label the last window cannot see, and the saved patch predicts the same after loading', async () => {
    const without = await run(false);
    const withBag = await run(true);
    assert.ok(without.test.accuracy < 0.7, `without a bag the early item is out of sight: ${without.test.accuracy}`);
    assert.ok(withBag.test.accuracy > 0.9, `with a bag: ${withBag.test.accuracy}`);
    assert.ok(withBag.trained.some((p) => p.name === 'head.item_bag.weight'));
    // Only rows of items seen in training moved (row-sparse updates), item 0 (padding) never.
    const table = withBag.head.itemBag!;
    assert.ok(table.data.subarray(0, table.shape[1]!).every((v) => v === 0));

    const dir = join(tempDir(), 'trait');
    const fingerprint = await baseFingerprint(modelDir);
    const spec = { type: 'classify' as const, label: 'trait', bins: null };
    await writePatchDir(dir, taskCardFor(spec, { type: 'classify', ...withBag }, fingerprint, null), withBag);
    assert.equal((await readTaskCard(dir)).itemBag, true);
    const loaded = await loadPatchDir(dir, await loadModelDir(modelDir), fingerprint);
    const histories = Array.from({ length: 20 }, (_, u) => userSequence(data, u));
    const { model } = await loadModelDir(modelDir);
    const inMemory = predictProbabilities(model, withBag.head, histories);
    const answers = predictTask(loaded, histories, { k: 1 });
    answers.forEach((a, u) => {
      assert.ok('probabilities' in a);
      assert.ok(Math.abs(a.probabilities['yes']! - inMemory[u * 2 + withBag.classes.indexOf('yes')]!) < 1e-6);
    });
  });
});
