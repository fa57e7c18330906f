import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { loadDataset } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { itemCounts, leaveOneOutSplit } from '../../src/data/split.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { TUNING_DEFAULTS } from '../../src/transfer/task.js';
import { TaskSpec, runTask, runTaskBaselines } from '../../src/transfer/tasks.js';
import { tempDir } from '../helpers/datasets.js';
import { DESCRIPTORS, ITEMS, TOPICS, catalogue, writeCatalogue } from '../helpers/text-catalogue.js';
import { CLI as cli } from '../helpers/cli.js';

const quiet = { progress: { start() {}, update() {}, stop() {} } };
const spec: TaskSpec = { type: 'next-item', negatives: 0, ks: [10], newItems: 0 };
const COLD = TOPICS.length * 2;

let dir: string;
let base: string;
let idBase: string;
let target: string;

/**
 * The new platform: the fresh catalogue (same words, new ids, an unseen kind word) plus COLD items that occur only
 * as some users' last item — never in the training part — with text of their users' topic.
 */
function newPlatform(): { texts: string[]; sequences: Int32Array[] } {
  const fresh = catalogue(2, 240);
  const texts = [...fresh.texts];
  const sequences = fresh.sequences.map((s) => Int32Array.from(s));
  for (let k = 0; k < COLD; k++) {
    const u = k * 7;
    const topic = u % TOPICS.length;
    texts.push(`${DESCRIPTORS[k % DESCRIPTORS.length]} ${TOPICS[topic]} item set`);
    sequences[u]![sequences[u]!.length - 1] = ITEMS + 1 + k;
  }
  return { texts, sequences };
}

before(async () => {
  dir = tempDir();
  const seen = writeCatalogue(dir, catalogue(1, 240), 'a');
  const other = writeCatalogue(dir, newPlatform(), 'b');
  await ingest({ input: seen.log, out: join(dir, 'seen'), itemText: seen.items, textBuckets: 1 << 12 });
  await ingest({ input: other.log, out: join(dir, 'platform'), itemText: other.items, textBuckets: 1 << 12 });
  await ingest({ input: other.log, out: join(dir, 'platform-8k'), itemText: other.items, textBuckets: 1 << 13 });
  target = join(dir, 'platform');
  const model = { ...MODEL_DEFAULTS, dim: 16, blocks: 1, maxLen: 6 };
  const train = { ...TRAIN_DEFAULTS, epochs: 12, batch: 32, lr: 0.01, patience: 12 };
  base = join(dir, 'text-base');
  await pretrain({ data: join(dir, 'seen'), out: base, model: { ...model, itemEncoder: 'text' }, train, ...quiet });
  idBase = join(dir, 'id-base');
  await pretrain({ data: join(dir, 'seen'), out: idBase, model, train: { ...train, epochs: 1 }, ...quiet });
});

async function run(strategy: 'zero-shot' | 'peterrec', epochs = 3, task: TaskSpec = spec) {
  const loaded = await loadModelDir(base);
  const dataset = await loadDataset(target);
  const data = { task: 'platform', dataset, datasetName: target, baseItems: loaded.items, baseConfig: loaded.config.model };
  const options = { ...TUNING_DEFAULTS, model: loaded.model, strategy, insertion: 'serial-each-conv' as const, epochs, batch: 32, lr: 0.01, patience: 3, testFraction: 0.2, seed: 1 };
  return { loaded, dataset, data, result: runTask(task, data, options), options };
}

describe('next-item transfer to a new platform (text items, no shared ids)', () => {
  it('zero-shot: the base reads the new catalogue by its text and ranks it far above popularity, cold items included', async () => {
    const { result, dataset } = await run('zero-shot');
    assert.equal(result.type, 'next-item');
    if (result.type !== 'next-item') return;
    assert.equal(result.trainedParams, 0);
    const t = result.test;
    assert.ok(Number(t['HR@10']) > 0.6 && Number(t['HR@10']) > 2 * t.popularity['HR@10']!, JSON.stringify(t));
    // The cold queries are exactly the test targets with no training occurrence.
    const split = leaveOneOutSplit(dataset);
    const counts = itemCounts(split.train, dataset.meta.numItems);
    assert.equal(t.coldItems.queries, Array.from(split.test.targets).filter((v) => counts[v] === 0).length);
    assert.equal(t.coldItems.queries, COLD);
    assert.ok(t.coldItems['HR@10']! > 0.5, `cold-item HR@10 ${t.coldItems['HR@10']}`);
  });

  it('peterrec trains only patches (blocks and item encoder) and the LayerNorms after them; the base is untouched; the id baseline cannot rank cold items', async () => {
    const { loaded, result, data, options } = await run('peterrec');
    const before = new Map([...(await loadModelDir(base)).model.parameterMap()].map(([n, p]) => [n, p.data]));
    for (const [name, p] of loaded.model.parameterMap()) assert.deepEqual(p.data, before.get(name), `${name} changed in the base`);
    const names = result.trained.map((p) => p.name);
    assert.ok(names.some((n) => n.startsWith('patch.item_text.')), names.join(', '));
    assert.ok(names.every((n) => n.startsWith('patch.') || /(ln2|norm)\.(gamma|beta|weight|bias)$/.test(n)), names.join(', '));
    assert.ok(result.trainedParams < 0.1 * result.totalParams, `${result.trainedParams} of ${result.totalParams}`);
    assert.ok(result.type === 'next-item' && Number(result.test['HR@10']) > 0.6);

    const b = runTaskBaselines(spec, data, { ...options, seed: 1 });
    assert.ok('idModel' in b);
    if (!('idModel' in b)) return;
    // An id row of an item never seen in training is still at its initial values: no better than chance.
    const cold = b.idModel.coldItems as Record<string, number>;
    assert.equal(cold.queries, COLD);
    assert.ok(cold['HR@10']! < 0.35, `id model cold-item HR@10 ${cold['HR@10']}`);
  });

  it('new items (a share of the catalogue held back until after training) are cold queries the patched text model ranks and the id model cannot', async () => {
    const held: TaskSpec = { ...spec, newItems: 0.25 };
    const { result, data, options } = await run('peterrec', 3, held);
    assert.ok(result.type === 'next-item');
    if (result.type !== 'next-item') return;
    const cold = result.test.coldItems;
    // A quarter of the catalogue is new: about a quarter of the test targets besides the COLD ones.
    assert.ok(cold.queries > COLD + 20, `${cold.queries} cold queries`);
    assert.ok(cold['HR@10']! > 0.5, `text model cold-item HR@10 ${cold['HR@10']}`);
    const b = runTaskBaselines(held, data, { ...options, seed: 1 });
    if (!('idModel' in b)) return assert.fail('no id model');
    const idCold = b.idModel.coldItems as Record<string, number>;
    assert.equal(idCold.queries, cold.queries, 'the baseline holds back the same items');
    assert.ok(idCold['HR@10']! < 0.35, `id model cold-item HR@10 ${idCold['HR@10']}`);
    const other = runTask({ ...held }, data, { ...options, seed: 2, strategy: 'zero-shot' });
    assert.ok(other.type === 'next-item' && other.test.coldItems.queries !== cold.queries, 'another seed draws other new items');
  });

  it('the CLI: finetune --type next-item writes a next-item patch; wrong bases, strategies and tokenizers are refused', async () => {
    const out = join(dir, 'patch');
    const ok = spawnSync(process.execPath, [cli, 'finetune', '--model', base, '--data', target, '--task', 'platform', '--type', 'next-item',
      '--strategy', 'peterrec', '--epochs', '1', '--batch', '32', '--out', out, '--json'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /epoch 1\/1 \d+\/\d+ batches, loss \d+\.\d+/, 'finetune shows its progress');
    const summary = JSON.parse(ok.stdout) as {
      type: string; test: { coldItems: { queries: number } }; validationScore: number;
      baselines: { idModel: { validation: Record<string, number> } }; verdict: Record<string, unknown>;
    };
    assert.equal(summary.type, 'next-item');
    const idModel = summary.baselines.idModel.validation['NDCG@10']!;
    assert.deepEqual(summary.verdict, {
      metric: 'NDCG@10', task: summary.validationScore, baseline: 'id model trained on the target alone', baselineValue: idModel,
      ahead: summary.validationScore > idModel,
    });
    assert.equal(summary.test.coldItems.queries, COLD);
    assert.ok(summary.baselines.idModel);
    const card = JSON.parse(readFileSync(join(out, 'task.json'), 'utf8')) as { type: string; targetItems: string[] };
    assert.equal(card.type, 'next-item');
    assert.deepEqual(card.targetItems, (await loadDataset(target)).items);

    const refused = (args: string[], pattern: RegExp) => {
      const bad = join(dir, `bad-${args.join('-').replace(/[^a-z0-9-]/gi, '')}`.slice(0, 60));
      const r = spawnSync(process.execPath, [cli, 'finetune', '--data', target, '--task', 't', '--out', bad, ...args], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, pattern);
      assert.equal(existsSync(bad), false);
    };
    refused(['--model', idBase, '--type', 'next-item'], /has no item text|cannot score a new platform's items/);
    refused(['--model', base, '--type', 'next-item', '--strategy', 'fine-cls'], /trains only a task head/);
    refused(['--model', base, '--type', 'classify', '--label', 'x', '--strategy', 'zero-shot'], /zero-shot|no attribute column/);
    refused(['--model', base, '--type', 'recommend'], /use --type next-item/);
    refused(['--model', base, '--type', 'next-item', '--new-items', '1'], /--new-items/);
    refused(['--model', base, '--type', 'classify', '--label', 'x', '--new-items', '0.1'], /--new-items holds back items .* next-item only/);
    const other = spawnSync(process.execPath, [cli, 'finetune', '--model', base, '--data', join(dir, 'platform-8k'), '--task', 't', '--type', 'next-item',
      '--out', join(dir, 'bad-8k')], { encoding: 'utf8' });
    assert.equal(other.status, 1);
    assert.match(other.stderr, /tokenised into 8192 buckets, the model in .* uses 4096/);
  });
});
