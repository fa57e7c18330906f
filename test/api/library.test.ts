import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import {
  DataError, ModelError, TRAIN_DEFAULTS, describeDirectory, embedItems, embedUsers, evaluate, finetune, loadModel, pretrain, recommend,
  serve, type Model,
} from '../../src/index.js';
import { savedCyclicDataset, tempDir } from '../helpers/datasets.js';

let ds: string;
let model: Model;

before(async () => {
  ds = await savedCyclicDataset();
  const out = join(tempDir(), 'model');
  const reports: number[] = [];
  const lines: string[] = [];
  const r = await pretrain({
    data: ds, out, model: { dim: 16, blocks: 1, maxLen: 8 }, train: { epochs: 6, lr: 0.01 },
    onProgress: (p) => reports.push(p.done), onLog: (l) => lines.push(l),
  });
  assert.equal(r.epochs, 6);
  assert.ok(reports.length > 0 && lines.length === 6, 'progress and log callbacks are called');
  model = await loadModel(out);
});

describe('the library API', () => {
  it('pretrain fills every unset option from the config schema', () => {
    assert.equal(model.config.train.batch, TRAIN_DEFAULTS.batch);
    assert.equal(model.config.train.patience, TRAIN_DEFAULTS.patience);
    assert.equal(model.config.train.lr, 0.01);
    assert.equal(model.config.model.kernelSize, 3);
    assert.match(model.fingerprint, /^[0-9a-f]{64}$/);
  });

  it('evaluate ranks the cyclic log far above popularity, from a loaded model or its directory', async () => {
    const e = await evaluate(model, { data: ds, ks: [10] });
    assert.deepEqual(Object.keys(e.metrics), ['HR@10', 'NDCG@10', 'MRR@10']);
    assert.ok(e.metrics['NDCG@10']! > 2 * e.popularity['NDCG@10']!, JSON.stringify(e));
    assert.deepEqual((await evaluate(model.dir, { data: ds, ks: [10] })).metrics, e.metrics);
  });

  it('recommend, embedUsers and embedItems answer in the order asked', async () => {
    const recs = await recommend(model, { users: ['u0', 'u1'], data: ds }, { k: 4 });
    assert.equal(recs.length, 2);
    assert.ok(recs.every((r) => r.length === 4));
    const byHistory = await recommend(model, { histories: [['i1', 'i2', 'i3']] }, { k: 4 });
    assert.ok(!byHistory[0]!.some((r) => ['i1', 'i2', 'i3'].includes(r.item)), 'seen items are left out by default');
    const users = await embedUsers(model, { users: ['u2', 'u0'], data: ds });
    assert.deepEqual(users.ids, ['u2', 'u0']);
    assert.equal(users.vectors[0]!.length, 16);
    assert.notDeepEqual(users.vectors[0], users.vectors[1]);
    const everyone = await embedUsers(model, { data: ds });
    assert.equal(everyone.ids.length, (await describeDirectory(ds) as { users: number }).users, 'no users: every user of the dataset');
    // The same user in another batch: equal up to rounding (a BLAS GEMM blocks batches of other sizes differently).
    const u2 = everyone.vectors[everyone.ids.indexOf('u2')]!;
    assert.ok(u2.every((v, i) => Math.abs(v - users.vectors[0]![i]!) <= 1e-5 * (1 + Math.abs(v))), `${u2} vs ${users.vectors[0]}`);
    const items = embedItems(model);
    assert.equal(items.ids.length, model.items.length);
    assert.ok(items.vectors.every((v) => v.length === 16));
  });

  it('bad input is one clear error, and nothing is written', async () => {
    const out = join(tempDir(), 'never');
    await assert.rejects(pretrain({ data: ds, out, train: { lr: -1 } }), (e: Error) => e instanceof DataError && /^pretrain: train: lr: /.test(e.message));
    assert.equal(existsSync(out), false);
    await assert.rejects(evaluate(model, { data: ds, ks: [] }), (e: Error) => e instanceof DataError && /^evaluate: ks: /.test(e.message));
    await assert.rejects(finetune({ model: model.dir, data: ds, task: 't', out }), (e: Error) => e instanceof DataError && /needs label/.test(e.message));
    assert.equal(existsSync(out), false);
    await assert.rejects(recommend(model, { users: ['nobody'], data: ds }), (e: Error) => e instanceof DataError && /unknown user "nobody"/.test(e.message));
    await assert.rejects(recommend(model, { histories: [['i1', 'zz']] }), (e: Error) => e instanceof DataError && /unknown item ids .*: zz/.test(e.message));
    assert.equal((await recommend(model, { histories: [['i1', 'zz']], ignoreUnknown: true })).length, 1);
    await assert.rejects(loadModel(ds), (e: Error) => e instanceof ModelError && /not a graftrec model/.test(e.message));
    // New items by text need a text model: this one encodes items by id.
    const newItems = join(tempDir(), 'new-items.csv');
    writeFileSync(newItems, 'item,title\nnew1,a new item\n');
    await assert.rejects(loadModel(model.dir, { itemText: { file: newItems } }),
      (e: Error) => e instanceof ModelError && /encodes items by id; only a text item encoder/.test(e.message));
  });

  it('describeDirectory tells a model from a dataset', async () => {
    assert.equal((await describeDirectory(model.dir)).kind, 'model');
    assert.equal((await describeDirectory(ds)).kind, 'dataset');
  });

  it('serve listens (any free port with 0) and answers until closed', async () => {
    const server = await serve({ model: model.dir, data: ds, port: 0 });
    try {
      const res = await fetch(`${server.url}/v1/recommend`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'u0', k: 3 }),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { recommendations: { item: string }[] };
      assert.deepEqual(body.recommendations.map((r) => r.item), (await recommend(model, { users: ['u0'], data: ds }, { k: 3 }))[0]!.map((r) => r.item));
    } finally {
      await server.close();
    }
  });
});
