import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadModel } from '../../src/api/model.js';
import { finetune, loadPatch, predict } from '../../src/api/task.js';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { loadDataset, userSequence } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { itemCounts, leaveOneOutSplit } from '../../src/data/split.js';
import { StartedServer, createServer } from '../../src/serve/start.js';
import { pretrain } from '../../src/train/pretrain.js';
import { predictTask } from '../../src/transfer/predict.js';
import { tempDir } from '../helpers/datasets.js';
import { catalogue, writeCatalogue } from '../helpers/text-catalogue.js';
import { CLI as cli } from '../helpers/cli.js';

const quiet = { progress: { start() {}, update() {}, stop() {} } };

let dir: string;
let base: string;
let platform: string;
let patches: string;
let summary: Awaited<ReturnType<typeof finetune>>;
let server: StartedServer;

before(async () => {
  dir = tempDir();
  const seen = writeCatalogue(dir, catalogue(1, 240), 'a');
  const other = writeCatalogue(dir, catalogue(2, 240), 'b');
  await ingest({ input: seen.log, out: join(dir, 'seen'), itemText: seen.items, textBuckets: 1 << 12 });
  platform = join(dir, 'platform');
  await ingest({ input: other.log, out: platform, itemText: other.items, textBuckets: 1 << 12 });
  base = join(dir, 'base');
  await pretrain({
    data: join(dir, 'seen'), out: base, model: { ...MODEL_DEFAULTS, dim: 16, blocks: 1, maxLen: 6, itemEncoder: 'text' },
    train: { ...TRAIN_DEFAULTS, epochs: 8, batch: 32, lr: 0.01, patience: 8 }, ...quiet,
  });
  patches = join(dir, 'patches');
  summary = await finetune({
    model: base, data: platform, task: 'shop-b', type: 'next-item', strategy: 'peterrec', out: join(patches, 'shop-b'),
    epochs: 2, batch: 32, lr: 0.01,
  });
  server = await createServer({
    model: base, patches, data: null, watch: false, ignoreUnknownItems: false, batchWaitMs: 0, maxBatch: 8, bodyLimit: 1 << 20,
    logger: false, adminToken: null,
  });
});

after(async () => {
  await server?.close();
});

describe('a next-item patch (a new platform\'s catalogue) in predict and serve', () => {
  it('the loaded patch ranks the test queries exactly as finetune\'s evaluation measured them', async () => {
    const task = await loadPatch(join(patches, 'shop-b'), await loadModel(base));
    const ds = await loadDataset(platform);
    const { test } = leaveOneOutSplit(ds);
    const answers = predictTask(task, test.histories, { k: 10 });
    let hits = 0;
    let ndcg = 0;
    answers.forEach((a, q) => {
      if (!('recommendations' in a)) throw new Error('no recommendations');
      const rank = a.recommendations.findIndex((r) => r.item === ds.items[test.targets[q]! - 1]);
      if (rank >= 0) {
        hits++;
        ndcg += 1 / Math.log2(rank + 2);
      }
    });
    const measured = summary.test as Record<string, number>;
    assert.ok(Math.abs(hits / test.targets.length - measured['HR@10']!) < 1e-9, `HR@10 ${hits / test.targets.length} vs ${measured['HR@10']}`);
    assert.ok(Math.abs(ndcg / test.targets.length - measured['NDCG@10']!) < 1e-6, `NDCG@10 ${ndcg / test.targets.length} vs ${measured['NDCG@10']}`);
    // Far above chance (10 of 60 items): the patch and the catalogue were both loaded.
    assert.ok(hits / test.targets.length > 0.4, `HR@10 ${hits / test.targets.length}`);
    // The stored prior is the one the evaluation added: β (chosen on validation) · log(1 + training count).
    if (task.head !== null) throw new Error('a next-item task has no head');
    const beta = measured.popularityPrior!;
    const counts = itemCounts(leaveOneOutSplit(ds).train, ds.meta.numItems);
    if (beta === 0) assert.equal(task.prior, null);
    else task.prior!.forEach((v, i) => assert.ok(Math.abs(v - beta * Math.log1p(counts[i]!)) < 1e-5, `prior of item ${i}`));
  });

  it('predict: a user of the platform\'s dataset and the same history by item ids get the same answer; the base\'s dataset is refused', async () => {
    const task = await loadPatch(join(patches, 'shop-b'), await loadModel(base));
    const ds = await loadDataset(platform);
    const history = Array.from(userSequence(ds, 3), (v) => ds.items[v - 1]!);
    const [byUser] = await predict(task, { data: platform, users: [ds.users[3]!] }, { k: 5 });
    const [byItems] = await predict(task, { histories: [history] }, { k: 5 });
    assert.deepEqual(byUser, byItems);
    await assert.rejects(predict(task, { data: join(dir, 'seen'), users: [ds.users[3]!] }), /not the catalogue task "shop-b" was trained on/);
    await assert.rejects(predict(task, { histories: [['a1']] }), /unknown item ids/);

    const cliRun = spawnSync(process.execPath, [cli, 'predict', '--model', base, '--patch', join(patches, 'shop-b'), '--items', history.join(','), '--k', '5', '--json'], { encoding: 'utf8' });
    assert.equal(cliRun.status, 0, cliRun.stderr);
    assert.deepEqual((JSON.parse(cliRun.stdout) as { recommendations: unknown }).recommendations, 'recommendations' in byItems! ? byItems.recommendations : null);
  });

  it('serve: POST /v1/recommend with the task answers as predict does, in the platform\'s ids; other uses are 400s', async () => {
    const task = await loadPatch(join(patches, 'shop-b'), await loadModel(base));
    const history = ['b1', 'b2', 'b3'];
    const [expected] = await predict(task, { histories: [history] }, { k: 7 });
    const post = async (url: string, payload: object) => {
      const res = await server.app.inject({ method: 'POST', url, payload });
      return { status: res.statusCode, body: res.json() as Record<string, unknown> };
    };
    const r = await post('/v1/recommend', { items: history, task: 'shop-b', k: 7 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.recommendations, 'recommendations' in expected! ? expected.recommendations : null);
    const unknown = await post('/v1/recommend', { items: ['a1'], task: 'shop-b' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.message as string, /not in task "shop-b"'s catalogue\): a1/);
    const byUser = await post('/v1/recommend', { user: 'u1', task: 'shop-b' });
    assert.equal(byUser.status, 400);
    assert.match(byUser.body.message as string, /send that platform's "items"/);
    const asClassify = await post('/v1/predict/shop-b', { items: history });
    assert.equal(asClassify.status, 400);
    assert.match(asClassify.body.message as string, /is a next-item task: ask POST \/v1\/recommend/);
    const embedded = await post('/v1/embed', { items: history, task: 'shop-b' });
    assert.equal(embedded.status, 200, JSON.stringify(embedded.body));
    const tasks = (await server.app.inject({ method: 'GET', url: '/v1/tasks' })).json() as { tasks: { type: string; card: { targetItemCount: number } }[] };
    assert.equal(tasks.tasks[0]!.type, 'next-item');
    assert.equal(tasks.tasks[0]!.card.targetItemCount, (await loadDataset(platform)).items.length);
  });

  it('a task dir written before its catalogue was stored is refused with one line (predict exit 1; serve reports it)', async () => {
    const old = join(dir, 'old-patches', 'shop-b');
    cpSync(join(patches, 'shop-b'), old, { recursive: true });
    rmSync(join(old, 'catalogue.safetensors'));
    const r = spawnSync(process.execPath, [cli, 'predict', '--model', base, '--patch', old, '--items', 'b1,b2'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /a next-item task written before its catalogue was stored with it \(catalogue\.safetensors is missing\); run finetune again/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    const s = await createServer({
      model: base, patches: join(dir, 'old-patches'), data: null, watch: false, ignoreUnknownItems: false, batchWaitMs: 0, maxBatch: 8,
      bodyLimit: 1 << 20, logger: false, adminToken: null,
    });
    try {
      assert.equal(s.registry.list().length, 0);
      const report = await s.registry.reload();
      assert.match(report.errors[0]!.error, /catalogue\.safetensors is missing/);
    } finally {
      await s.close();
    }
  });
});
