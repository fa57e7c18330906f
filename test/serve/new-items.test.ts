import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { loadDataset } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { HistoryResolver } from '../../src/serve/histories.js';
import { createServer } from '../../src/serve/start.js';
import { noGrad } from '../../src/tensor/index.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { tempDir } from '../helpers/datasets.js';
import { TOPICS, catalogue, writeCatalogue } from '../helpers/text-catalogue.js';
import { CLI as cli } from '../helpers/cli.js';

const quiet = { progress: { start() {}, update() {}, stop() {} } };

let dir: string;
let textModel: string;
let idModel: string;
let newItems: string;
const seen = catalogue(1, 240);
const fresh = catalogue(2, 240);

before(async () => {
  dir = tempDir();
  const files = writeCatalogue(dir, seen, 'a');
  await ingest({ input: files.log, out: join(dir, 'ds'), itemText: files.items, textBuckets: 1 << 12 });
  const model = { ...MODEL_DEFAULTS, dim: 16, blocks: 1, maxLen: 6 };
  const train = { ...TRAIN_DEFAULTS, epochs: 12, batch: 32, lr: 0.01, patience: 12 };
  textModel = join(dir, 'text');
  await pretrain({ data: join(dir, 'ds'), out: textModel, model: { ...model, itemEncoder: 'text' }, train, ...quiet });
  idModel = join(dir, 'id');
  await pretrain({ data: join(dir, 'ds'), out: idModel, model, train: { ...train, epochs: 1 }, ...quiet });
  // New items: the fresh catalogue's products under new ids (n1..n60), plus one the seen catalogue already has.
  newItems = join(dir, 'new-items.tsv');
  writeFileSync(newItems, 'item\ttitle\n' + fresh.texts.map((t, k) => `n${k + 1}\t${t}`).join('\n') + `\na1\t${seen.texts[0]}\n`);
});

/** The topic of an item by its text. */
function topicOf(item: string): string {
  const text = item.startsWith('n') ? fresh.texts[Number(item.slice(1)) - 1]! : seen.texts[Number(item.slice(1)) - 1]!;
  return TOPICS.find((t) => text.includes(t))!;
}

describe('new items by their text (a text model scores items it never saw)', () => {
  const history = Array.from(seen.sequences[0]!.subarray(0, 5), (i) => `a${i}`);
  const topic = topicOf(history[0]!);

  it('recommend --item-text ranks new items of the history\'s topic among the trained ones; without it they cannot appear', () => {
    const run = (extra: string[]) => {
      const r = spawnSync(process.execPath, [cli, 'recommend', '--model', textModel, '--items', history.join(','), '--k', '20', '--json', ...extra], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return (JSON.parse(r.stdout) as { recommendations: { item: string }[] }).recommendations.map((x) => x.item);
    };
    const withNew = run(['--item-text', newItems]);
    const onTopic = withNew.filter((i) => topicOf(i) === topic);
    const newOnTopic = onTopic.filter((i) => i.startsWith('n'));
    // 5 unseen + 10 new items share the topic: text puts them (and only a few others) in the top 20.
    assert.ok(onTopic.length >= 14, `${onTopic.length} of 20 on topic ${topic}: ${withNew.join(' ')}`);
    assert.ok(newOnTopic.length >= 5, `${newOnTopic.length} new items on topic: ${withNew.join(' ')}`);
    assert.ok(run([]).every((i) => i.startsWith('a')));

    const refused = spawnSync(process.execPath, [cli, 'recommend', '--model', idModel, '--items', history.join(','), '--item-text', newItems], { encoding: 'utf8' });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /encodes items by id; only a text item encoder .* can take new items by their text/);
    const empty = join(dir, 'empty-text.tsv');
    writeFileSync(empty, 'item\ttitle\nn1\tred garden item\nn2\t\n');
    const bad = spawnSync(process.execPath, [cli, 'recommend', '--model', textModel, '--items', history.join(','), '--item-text', empty], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /row 2 has no text for item "n2"/);
  });

  it('embed --items writes the item vectors as Parquet that ingest --item-features reads back exactly; users too; no overwrite without --force', async () => {
    const vectors = join(dir, 'items.parquet');
    const users = join(dir, 'users.parquet');
    const r = spawnSync(process.execPath, [cli, 'embed', '--model', textModel, '--items', vectors, '--item-text', newItems,
      '--data', join(dir, 'ds'), '--users', users], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const trained = await loadModelDir(textModel);
    assert.match(r.stdout, new RegExp(`${trained.items.length + fresh.texts.length} item vectors`));
    await ingest({ input: join(dir, 'ainteractions.tsv'), out: join(dir, 'ds-vectors'), itemFeatures: vectors });
    const back = await loadDataset(join(dir, 'ds-vectors'));
    const table = noGrad(() => trained.model.items.table()).data;
    const dim = trained.config.model.dim;
    // The re-ingested dataset indexes the same items in the same order as the model's own dataset.
    assert.deepEqual(back.items, trained.items);
    for (let i = 1; i <= back.meta.numItems; i++) {
      for (let c = 0; c < dim; c++) assert.ok(Math.abs(back.itemFeatures![i * dim + c]! - table[i * dim + c]!) < 1e-6, `item ${i} channel ${c}`);
    }
    const again = spawnSync(process.execPath, [cli, 'embed', '--model', textModel, '--items', vectors], { encoding: 'utf8' });
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already exists; pass --force/);
    assert.equal(spawnSync(process.execPath, [cli, 'embed', '--model', textModel, '--items', vectors, '--force'], { encoding: 'utf8' }).status, 0);
  });

  it('serve --item-text: the base\'s routes take and return new items; tasks know only the trained ones', async () => {
    const s = await createServer({
      model: textModel, itemText: { file: newItems }, patches: null, data: null, watch: false, ignoreUnknownItems: false,
      batchWaitMs: 0, maxBatch: 8, bodyLimit: 1 << 20, logger: false, adminToken: null,
    });
    try {
      const res = await s.app.inject({ method: 'POST', url: '/v1/recommend', payload: { items: [...history, 'n3'], k: 20 } });
      assert.equal(res.statusCode, 200, res.body);
      const items = (res.json() as { recommendations: { item: string }[] }).recommendations.map((x) => x.item);
      assert.ok(items.some((i) => i.startsWith('n')), items.join(' '));
      const tasks = await s.app.inject({ method: 'GET', url: '/v1/tasks' });
      assert.equal((tasks.json() as { base: { items: number } }).base.items, (await loadModelDir(textModel)).items.length + fresh.texts.length);
    } finally {
      await s.close();
    }
    const trained = await loadModelDir(textModel);
    const extendedItems = [...trained.items, 'n1'];
    const resolver = new HistoryResolver({ ...trained, items: extendedItems }, null, '', false);
    assert.equal(resolver.resolve({ items: ['n1', history[0]!] }, null).history.length, 2);
    assert.throws(() => resolver.resolve({ items: ['n1', history[0]!] }, null, trained.items.length), /not among the items the task was trained with\): n1/);
  });
});
