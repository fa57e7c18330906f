import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { ingest } from '../../src/data/ingest.js';
import { MAX_ITEM_TEXTS } from '../../src/serve/item-texts.js';
import { StartedServer, createServer } from '../../src/serve/start.js';
import { pretrain } from '../../src/train/pretrain.js';
import { tempDir } from '../helpers/datasets.js';
import { TOPICS, catalogue, writeCatalogue } from '../helpers/text-catalogue.js';

const quiet = { progress: { start() {}, update() {}, stop() {} } };
const seen = catalogue(1, 240);
const fresh = catalogue(2, 240);
/** The fresh catalogue's products as new items n1..n60, sent with a request. */
const itemTexts = fresh.texts.map((text, k) => ({ id: `n${k + 1}`, text }));

let dir: string;
let textServer: StartedServer;
let loadTimeServer: StartedServer;
let idServer: StartedServer;

const start = (model: string, itemText: string | null = null) => createServer({
  model, itemText: itemText ? { file: itemText } : null, patches: null, data: null, watch: false, ignoreUnknownItems: false,
  batchWaitMs: 0, maxBatch: 8, bodyLimit: 1 << 20, logger: false, adminToken: null,
});

before(async () => {
  dir = tempDir();
  const files = writeCatalogue(dir, seen, 'a');
  await ingest({ input: files.log, out: join(dir, 'ds'), itemText: files.items, textBuckets: 1 << 12 });
  const model = { ...MODEL_DEFAULTS, dim: 16, blocks: 1, maxLen: 6 };
  const train = { ...TRAIN_DEFAULTS, epochs: 12, batch: 32, lr: 0.01, patience: 12 };
  await pretrain({ data: join(dir, 'ds'), out: join(dir, 'text'), model: { ...model, itemEncoder: 'text' }, train, ...quiet });
  await pretrain({ data: join(dir, 'ds'), out: join(dir, 'id'), model, train: { ...train, epochs: 1 }, ...quiet });
  const table = join(dir, 'new-items.tsv');
  writeFileSync(table, 'item\ttitle\n' + itemTexts.map((t) => `${t.id}\t${t.text}`).join('\n') + '\n');
  textServer = await start(join(dir, 'text'));
  loadTimeServer = await start(join(dir, 'text'), table);
  idServer = await start(join(dir, 'id'));
});

after(async () => {
  await Promise.all([textServer, loadTimeServer, idServer].map((s) => s?.close()));
});

const topicOf = (text: string) => TOPICS.find((t) => text.includes(t))!;

async function post(s: StartedServer, url: string, payload: unknown) {
  const res = await s.app.inject({ method: 'POST', url, payload: payload as object });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

describe('itemTexts: new items by their text, per request', () => {
  const history = Array.from(seen.sequences[0]!.subarray(0, 5), (i) => `a${i}`);
  const topic = topicOf(seen.texts[seen.sequences[0]![0]! - 1]!);

  it('new items of the history\'s topic rank among the top; an off-topic new item ranks below them', async () => {
    const r = await post(textServer, '/v1/recommend', { items: history, k: 120, itemTexts });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const ranked = (r.body.recommendations as { item: string }[]).map((x) => x.item);
    // Every item, trained or new, but the 5 of the history: each new item got a rank.
    const trained = ((await textServer.app.inject({ method: 'GET', url: '/v1/tasks' })).json() as { base: { items: number } }).base.items;
    assert.equal(ranked.length, trained + itemTexts.length - history.length);
    const rankOf = (id: string) => ranked.indexOf(id);
    const newOnTopic = itemTexts.filter((t) => topicOf(t.text) === topic).map((t) => rankOf(t.id));
    const newOffTopic = itemTexts.filter((t) => topicOf(t.text) !== topic).map((t) => rankOf(t.id));
    assert.equal(newOnTopic.length, 10);
    // Text puts the 10 on-topic new items (and the 5 unseen on-topic trained ones) ahead of the other 100.
    assert.ok(Math.max(...newOnTopic) < 20, `on-topic new items at ranks ${newOnTopic.join(' ')}`);
    assert.ok(Math.max(...newOnTopic) < Math.min(...newOffTopic), `on-topic ${newOnTopic.join(' ')}, off-topic from ${Math.min(...newOffTopic)}`);
  });

  it('scores exactly as the same items registered by text at load (one catalogue machinery), and leaves nothing behind', async () => {
    const perRequest = await post(textServer, '/v1/recommend', { items: [...history, 'n3'], k: 30, itemTexts });
    const atLoad = await post(loadTimeServer, '/v1/recommend', { items: [...history, 'n3'], k: 30 });
    assert.equal(perRequest.status, 200, JSON.stringify(perRequest.body));
    assert.equal(atLoad.status, 200, JSON.stringify(atLoad.body));
    const a = perRequest.body.recommendations as { item: string; score: number }[];
    const b = atLoad.body.recommendations as { item: string; score: number }[];
    assert.deepEqual(a.map((x) => x.item), b.map((x) => x.item));
    a.forEach((x, i) => assert.ok(Math.abs(x.score - b[i]!.score) < 1e-4, `${x.item}: ${x.score} vs ${b[i]!.score}`));

    const embedded = await post(textServer, '/v1/embed', { items: ['n3', 'n7'], itemTexts });
    const embeddedAtLoad = await post(loadTimeServer, '/v1/embed', { items: ['n3', 'n7'] });
    assert.equal(embedded.status, 200, JSON.stringify(embedded.body));
    (embedded.body.vector as number[]).forEach((v, c) => assert.ok(Math.abs(v - (embeddedAtLoad.body.vector as number[])[c]!) < 1e-5));

    // The next request without texts does not know them: nothing was registered for later requests.
    const later = await post(textServer, '/v1/recommend', { items: [...history, 'n3'] });
    assert.equal(later.status, 400);
    assert.match(later.body.message as string, /unknown item ids .*: n3/);
  });

  it('an id already in the model keeps its trained vector: its text in the request changes nothing', async () => {
    const plain = await post(textServer, '/v1/recommend', { items: history, k: 10 });
    const relabelled = await post(textServer, '/v1/recommend', { items: history, k: 10, itemTexts: [{ id: history[0]!, text: 'vintage aquarium item set' }] });
    assert.deepEqual(relabelled.body, plain.body);
  });

  it('an id-only base refuses itemTexts with a 400 naming the reason', async () => {
    const idHistory = history.slice(0, 3);
    const r = await post(idServer, '/v1/recommend', { items: idHistory, itemTexts: itemTexts.slice(0, 2) });
    assert.equal(r.status, 400);
    assert.match(r.body.message as string, /"itemTexts" needs a model with the text item encoder; this server's model encodes items by id/);
    assert.equal((await post(idServer, '/v1/embed', { items: idHistory, itemTexts: itemTexts.slice(0, 2) })).status, 400);
    assert.equal((await post(idServer, '/v1/recommend', { items: idHistory })).status, 200);
  });

  it('bad itemTexts are 400s with a clear message', async () => {
    const cases: [unknown, RegExp][] = [
      [[{ id: 'x1', text: '' }], /itemTexts\/0\/text must NOT have fewer than 1 characters/],
      [[{ id: 'x1', text: '   ' }], /"itemTexts"\[0\] \(item "x1"\) has an empty text/],
      [[{ id: 'x1', text: '!!! …' }], /no words in the text of item "x1"/],
      [[{ id: 'x1', text: 42 }], /itemTexts\/0\/text must be string/],
      [[{ id: 'x1' }], /must have required property 'text'/],
      [[{ id: 'x1', text: 'red garden item', price: 3 }], /unknown field "price"/],
      [{ x1: 'red garden item' }, /itemTexts must be array/],
      [[], /itemTexts must NOT have fewer than 1 items/],
      [[{ id: 'x1', text: 'red garden item' }, { id: 'x1', text: 'mini camera item' }], /gives item "x1" twice/],
      [Array.from({ length: MAX_ITEM_TEXTS + 1 }, (_, k) => ({ id: `x${k}`, text: 'red garden item' })), new RegExp(`must NOT have more than ${MAX_ITEM_TEXTS} items`)],
    ];
    for (const [value, message] of cases) {
      const r = await post(textServer, '/v1/recommend', { items: history, itemTexts: value });
      assert.equal(r.status, 400, JSON.stringify(value).slice(0, 80));
      assert.match(r.body.message as string, message);
    }
    const withTask = await post(textServer, '/v1/recommend', { items: history, task: 'any', itemTexts: itemTexts.slice(0, 1) });
    assert.equal(withTask.status, 400);
    assert.match(withTask.body.message as string, /"itemTexts" is for the base model only/);
  });

  it('the OpenAPI document shows itemTexts on the recommend and embed routes', async () => {
    const doc = (await textServer.app.inject({ method: 'GET', url: '/docs/json' })).json() as {
      paths: Record<string, { post: { requestBody: { content: Record<string, { schema: { properties: Record<string, { items?: { required?: string[] } }> } }> } } }>;
    };
    for (const path of ['/v1/recommend', '/v1/embed']) {
      const texts = doc.paths[path]!.post.requestBody.content['application/json']!.schema.properties.itemTexts;
      assert.deepEqual(texts?.items?.required, ['id', 'text'], path);
    }
  });
});
