import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS, TrainConfig } from '../../src/config/schema.js';
import { loadDataset, saveDataset } from '../../src/data/dataset.js';
import { itemCounts, leaveOneOutSplit } from '../../src/data/split.js';
import { ModelError, TrainingError } from '../../src/errors.js';
import { evaluateNextItem } from '../../src/eval/evaluate.js';
import { Adam, Rng } from '../../src/tensor/index.js';
import { causalBatch } from '../../src/data/batches.js';
import { NextItNet } from '../../src/models/nextitnet.js';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { positionNegatives, sequenceLoss } from '../../src/train/objectives.js';
import { trainingStep } from '../../src/train/step.js';
import { cyclicSequences, datasetFromSequences, savedCyclicDataset, tempDir } from '../helpers/datasets.js';
import { CLI as cli } from '../helpers/cli.js';

const model = { ...MODEL_DEFAULTS, dim: 16, blocks: 2, maxLen: 8 };
const train = (over: Partial<TrainConfig> = {}): TrainConfig => ({ ...TRAIN_DEFAULTS, epochs: 2, batch: 32, lr: 0.005, ...over });

describe('pretraining', () => {
  it('writes a complete model directory and learns a sequential pattern far beyond popularity', async () => {
    const data = await savedCyclicDataset(150, 60, 12);
    const out = join(tempDir(), 'model');
    const result = await pretrain({ data, out, model, train: train({ epochs: 8 }) });
    for (const f of ['config.json', 'model.safetensors', 'items.json', 'metrics.jsonl', 'training.json', 'checkpoint/state.json', 'checkpoint/optimizer.safetensors']) {
      assert.ok(existsSync(join(out, f)), f);
    }
    assert.equal(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length, result.epochs);
    const loaded = await loadModelDir(out);
    const ds = await loadDataset(data);
    const split = leaveOneOutSplit(ds);
    const r = evaluateNextItem(loaded.model, split.test, itemCounts(split.train, ds.meta.numItems), { ks: [10], maskHistory: false });
    assert.ok(r.metrics['HR@10']! > 0.9, `model HR@10 ${r.metrics['HR@10']}`);
    assert.ok(r.popularity!['HR@10']! < 0.4, `popularity HR@10 ${r.popularity!['HR@10']}`);
  });

  it('the same seed gives the same numbers; another seed gives others', async () => {
    const data = await savedCyclicDataset(60, 20, 8);
    const run = async (seed: number) => (await pretrain({ data, out: join(tempDir(), 'm'), model, train: train({ seed }) })).history.map((h) => [h.trainLoss, h.valid['NDCG@10']]);
    assert.deepEqual(await run(5), await run(5));
    assert.notDeepEqual(await run(5), await run(6));
  });

  for (const [backbone, negatives] of [['nextitnet', 0], ['nextitnet', 7], ['sasrec', 7]] as const) {
    it(`a resumed run continues exactly where it stopped (${backbone}, ${negatives ? 'sampled' : 'full'} softmax)`, async () => {
      const data = await savedCyclicDataset(60, 20, 8);
      const model = { ...MODEL_DEFAULTS, backbone, dim: 16, blocks: 2, layers: 1, heads: 2, dropout: 0.3, maxLen: 8 };
      const straight = join(tempDir(), 'straight');
      await pretrain({ data, out: straight, model, train: train({ epochs: 3, negatives }) });
      const resumed = join(tempDir(), 'resumed');
      await pretrain({ data, out: resumed, model, train: train({ epochs: 1, negatives }) });
      await pretrain({ data, out: resumed, model, train: train({ epochs: 3, negatives }), resume: true });
      assert.deepEqual(readFileSync(join(resumed, 'checkpoint/model.safetensors')), readFileSync(join(straight, 'checkpoint/model.safetensors')));
      assert.deepEqual(readFileSync(join(resumed, 'metrics.jsonl'), 'utf8').split('\n').map((l) => l.replace(/"epochSeconds":[^,]*,"itemsPerSec":[^}]*/, '')),
        readFileSync(join(straight, 'metrics.jsonl'), 'utf8').split('\n').map((l) => l.replace(/"epochSeconds":[^,]*,"itemsPerSec":[^}]*/, '')));
    });
  }

  it('the masked objective learns the sequential pattern: loss falls, test ranking far above popularity', async () => {
    const data = await savedCyclicDataset(150, 60, 12);
    const out = join(tempDir(), 'masked');
    const r = await pretrain({ data, out, model: { ...model, objective: 'masked' }, train: train({ epochs: 20, lr: 0.01 }) });
    const [first, last] = [r.history[0]!.trainLoss, r.history[r.history.length - 1]!.trainLoss];
    assert.ok(last < first - 1.5, `training loss ${first} -> ${last}`);
    const loaded = await loadModelDir(out);
    assert.equal(loaded.config.model.objective, 'masked');
    const ds = await loadDataset(data);
    const split = leaveOneOutSplit(ds);
    const e = evaluateNextItem(loaded.model, split.test, itemCounts(split.train, ds.meta.numItems), { ks: [10], maskHistory: false });
    assert.ok(e.metrics['HR@10']! > 0.8, `masked model HR@10 ${e.metrics['HR@10']}`);
    assert.ok(e.metrics['NDCG@10']! > 5 * e.popularity!['NDCG@10']!, `NDCG@10 ${e.metrics['NDCG@10']} vs popularity ${e.popularity!['NDCG@10']}`);
  });

  it('the bce loss (one negative per position) learns the pattern, is recorded, and refuses sampled softmax negatives', async () => {
    const data = await savedCyclicDataset(150, 60, 12);
    const out = join(tempDir(), 'bce');
    await pretrain({ data, out, model, train: train({ epochs: 8, loss: 'bce', lr: 0.01 }) });
    const loaded = await loadModelDir(out);
    assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).train.loss, 'bce');
    const ds = await loadDataset(data);
    const split = leaveOneOutSplit(ds);
    const e = evaluateNextItem(loaded.model, split.test, itemCounts(split.train, ds.meta.numItems), { ks: [10], maskHistory: false });
    assert.ok(e.metrics['HR@10']! > 0.8, `bce model HR@10 ${e.metrics['HR@10']}`);
    assert.ok(e.metrics['NDCG@10']! > 3 * e.popularity!['NDCG@10']!, `NDCG@10 ${e.metrics['NDCG@10']} vs popularity ${e.popularity!['NDCG@10']}`);

    const refused = join(tempDir(), 'bce-sampled');
    await assert.rejects(pretrain({ data, out: refused, model, train: train({ loss: 'bce', negatives: 5 }) }), /bce loss draws one negative per position/);
    assert.equal(existsSync(refused), false);
  });

  it('bce negatives: one per predicted position, none on padding, never an item of the same window', () => {
    const windows = [Int32Array.of(1, 2, 3, 4, 5), Int32Array.of(6, 7), Int32Array.of(8, 9, 10, 11, 12)];
    const batch = causalBatch(windows, 4);
    const negatives = positionNegatives(batch, 15, new Rng(3));
    for (let b = 0; b < batch.size; b++) {
      const row = new Set(windows[b]);
      for (let j = b * batch.length; j < (b + 1) * batch.length; j++) {
        if (batch.targets[j] === 0) {
          assert.equal(negatives[j], 0, 'padding gets no negative');
          continue;
        }
        assert.ok(negatives[j]! >= 1 && negatives[j]! <= 15, `negative ${negatives[j]} in range`);
        assert.ok(!row.has(negatives[j]!), `negative ${negatives[j]} is not an item of window ${b}`);
      }
    }
    assert.deepEqual(positionNegatives(batch, 15, new Rng(3)), negatives, 'seeded');
    assert.ok(new Set(negatives.filter((n) => n > 0)).size > 3, 'negatives vary');
  });

  it('refuses to overwrite an existing model, and --resume without a checkpoint', async () => {
    const data = await savedCyclicDataset(40, 10, 6);
    const out = join(tempDir(), 'm');
    await pretrain({ data, out, model, train: train({ epochs: 1 }) });
    await assert.rejects(pretrain({ data, out, model, train: train() }), (e: unknown) => e instanceof ModelError && /already exists/.test(e.message));
    await assert.rejects(pretrain({ data, out: join(tempDir(), 'none'), model, train: train(), resume: true }), ModelError);
  });

  it('a NaN loss stops training with a TrainingError', () => {
    const config = ModelConfigSchema.parse({ numItems: 10, dim: 8, blocks: 1, maxLen: 4 });
    const m = new NextItNet(config, new Rng(1));
    m.outputBias!.data[3] = NaN;
    const batch = causalBatch([Int32Array.from([1, 2, 3])], 4);
    assert.throws(() => trainingStep([sequenceLoss(m, batch, { negatives: 0, sampler: null }, new Rng(1))], new Adam(m.parameters(), { lr: 0.01 }), { clipNorm: 0 }),
      (e: unknown) => e instanceof TrainingError && /loss became NaN/.test(e.message));
  });

  it('a run that fails before its first epoch leaves no model directory', async () => {
    const dir = join(tempDir(), 'short');
    await saveDataset(dir, datasetFromSequences([[1, 2], [3, 4]], 4)); // no user has enough items to train on
    const out = join(tempDir(), 'never');
    await assert.rejects(pretrain({ data: dir, out, model, train: train() }), /no user has enough items/);
    assert.equal(existsSync(out), false);
  });

  it('CLI: pretrain, evaluate --json (with popularity) and recommend; clear errors for bad input', async () => {
    const data = await savedCyclicDataset(60, 20, 8);
    const out = join(tempDir(), 'cli-model');
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    const p = run('pretrain', '--data', data, '--out', out, '--dim', '16', '--blocks', '2', '--max-len', '8', '--epochs', '2', '--json', '--quiet');
    assert.equal(p.status, 0, p.stderr);
    assert.equal(JSON.parse(p.stdout).epochs, 2);
    const e = run('evaluate', '--model', out, '--data', data, '--json', '--k', '5,10');
    assert.equal(e.status, 0, e.stderr);
    const metrics = JSON.parse(e.stdout);
    for (const key of ['HR@10', 'NDCG@10', 'MRR@10', 'HR@5']) assert.equal(typeof metrics[key], 'number', key);
    assert.equal(typeof metrics.popularity['HR@10'], 'number');
    assert.equal(metrics.historyMasked, false);
    const s = run('evaluate', '--model', out, '--data', data, '--json', '--sampled', '5');
    assert.match(JSON.parse(s.stdout).protocol, /sampled/);
    const r = run('recommend', '--model', out, '--items', 'i1,i2,i3', '--k', '3', '--json');
    assert.equal(r.status, 0, r.stderr);
    const recs = JSON.parse(r.stdout).recommendations as { item: string }[];
    assert.equal(recs.length, 3);
    assert.ok(recs.every((x) => !['i1', 'i2', 'i3'].includes(x.item)), 'seen items are excluded');
    const u = run('recommend', '--model', out, '--user', 'u3', '--data', data, '--json');
    assert.equal(u.status, 0, u.stderr);

    const notModel = run('evaluate', '--model', data, '--data', data);
    assert.notEqual(notModel.status, 0);
    assert.match(notModel.stderr, /not a graftrec model \(no config.json\)/);
    const other = join(tempDir(), 'other');
    await saveDataset(other, datasetFromSequences(cyclicSequences(20, 25, 6), 25));
    const mismatch = run('evaluate', '--model', out, '--data', other);
    assert.match(mismatch.stderr, /item vocabulary .* does not match the model/);
    const unknown = run('recommend', '--model', out, '--items', 'i1,nope');
    assert.match(unknown.stderr, /unknown item ids .*nope/);
    const badFlag = run('pretrain', '--data', data, '--out', join(tempDir(), 'x'), '--epochs', 'two');
    assert.notEqual(badFlag.status, 0);
    assert.match(badFlag.stderr, /epochs must be an integer/);
    const noData = run('pretrain', '--data', join(tempDir(), 'missing'), '--out', join(tempDir(), 'y'));
    assert.match(noData.stderr, /not a graftrec dataset/);
  });
});
