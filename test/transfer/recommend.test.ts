import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS, TRANSFER_DEFAULTS } from '../../src/config/schema.js';
import { Dataset, loadDataset } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { writeSynthetic } from '../../src/data/synth.js';
import { DataError } from '../../src/errors.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { crossDomainExamples } from '../../src/transfer/crossdomain.js';
import { baseFingerprint, loadPatchDir, writePatchDir } from '../../src/transfer/patchfile.js';
import { predictTask } from '../../src/transfer/predict.js';
import { RecommendOptions, finetuneRecommender } from '../../src/transfer/recommend.js';
import { runTask, taskCardFor } from '../../src/transfer/tasks.js';
import { ItemPairs } from '../../src/transfer/item-pairs.js';
import { tempDir } from '../helpers/datasets.js';
import { TUNING_DEFAULTS } from '../../src/transfer/task.js';
import { ITEM_PAIRS_START_SCALES } from '../../src/transfer/item-pairs.js';
import { CLI } from '../helpers/cli.js';

let full: Dataset;
let fullDir: string;
let modelDir: string;

/** The synthetic two-domain log in the PeterRec CSV layout: source items, an empty field, target items. */
function toPeterRecCsv(interactionsCsv: string): string {
  const perUser = new Map<string, { A: string[]; B: string[] }>();
  for (const line of interactionsCsv.trim().split('\n').slice(1)) {
    const [user, item, , domain] = line.split(',') as [string, string, string, 'A' | 'B'];
    if (!perUser.has(user)) perUser.set(user, { A: [], B: [] });
    perUser.get(user)![domain].push(item);
  }
  return [...perUser.values()].map(({ A, B }) => `${A.join(',')},,${B.length > 0 ? B.join(',') : '0'}`).join('\n') + '\n';
}

before(async () => {
  const root = tempDir();
  await writeSynthetic(join(root, 'raw'), { users: 900, items: 150, domains: 2, seed: 5 });
  const csv = join(root, 'cold.csv');
  writeFileSync(csv, toPeterRecCsv(readFileSync(join(root, 'raw', 'interactions.csv'), 'utf8')));
  // The base model sees only the source domain; the task dataset has both.
  await ingest({ input: csv, format: 'peterrec', domain: 'source', out: join(root, 'source') });
  fullDir = join(root, 'full');
  await ingest({ input: csv, format: 'peterrec', minUserInteractions: 1, out: fullDir });
  full = await loadDataset(fullDir);
  modelDir = join(root, 'model');
  await pretrain({
    data: join(root, 'source'), out: modelDir, model: { ...MODEL_DEFAULTS, dim: 32, blocks: 2, maxLen: 20 },
    train: { ...TRAIN_DEFAULTS, epochs: 4, batch: 64, lr: 0.003 },
  });
});

async function options(over: Partial<RecommendOptions> = {}): Promise<RecommendOptions> {
  const base = await loadModelDir(modelDir);
  return {
    ...TUNING_DEFAULTS, model: base.model, task: 'cold', dataset: full, datasetName: 'cold', baseItems: base.items, sourceDomain: 'source',
    targetDomain: 'target', negatives: 0, itemPairs: TRANSFER_DEFAULTS.itemPairs && !over.negatives, ks: [5, 10], strategy: 'peterrec', insertion: 'serial-each-conv', epochs: 8,
    batch: 64, lr: 0.003, patience: 2, testFraction: 0.2, seed: 1, ...over,
  };
}

describe('cross-domain (cold-start) recommendation by transfer', () => {
  it('examples: source sequences in the base vocabulary, target items in a new one, users with both', async () => {
    const base = await loadModelDir(modelDir);
    const modelItems = base.model.config.numItems;
    const ex = crossDomainExamples(full, base.items, 'source', 'target', 'cold', modelItems);
    assert.ok(ex.targetItems.length > 50 && ex.targetItems.every((i) => i.startsWith('target:')));
    assert.ok(ex.users.length > 300 && ex.users.length < full.meta.numUsers, `${ex.users.length} users`);
    for (let j = 0; j < ex.users.length; j++) {
      for (const v of ex.sources[j]!) assert.ok(base.items[v - 1]!.startsWith('source:'));
      for (const t of ex.targets[j]!) assert.ok(t >= 0 && t < ex.targetItems.length);
      assert.equal(new Set(ex.targets[j]).size, ex.targets[j]!.length);
    }
    assert.equal(ex.targetItemsKnownToBase, 0, 'the base was pretrained on the source domain only: a real cold start');
    // The task dataset's vocabulary (both domains) is not the base model's: refused, not silently misread.
    assert.ok(full.items.length > modelItems);
    assert.throws(() => crossDomainExamples(full, full.items, 'source', 'target', 'cold', modelItems),
      (e: unknown) => e instanceof DataError && /has \d+ items but the base model has \d+; pass the base model's own item list/.test(e.message));
    // A base whose vocabulary holds the target items saw target-domain interactions: flagged.
    const seen = crossDomainExamples(full, full.items, 'source', 'target', 'cold', full.items.length);
    assert.equal(seen.targetItemsKnownToBase, seen.targetItems.length);
    assert.throws(() => crossDomainExamples(full, base.items, 'source', 'movies', 'cold', modelItems), (e: unknown) => e instanceof DataError && /unknown target domain "movies" \(domains: source, target\)/.test(e.message));
    assert.throws(() => crossDomainExamples(full, ['nothing'], 'source', 'target', 'cold', 1), /no user has items in both the source domain "source" \(known to the model\) and the target domain "target"/);
    assert.throws(() => crossDomainExamples({ ...full, domains: null, meta: { ...full.meta, domains: null } }, base.items, 'source', 'target', 'cold', modelItems), /has no domain column/);
  });

  it('peterrec (full and sampled softmax) beats popularity on cold-start users, full ranking over target items', async () => {
    for (const negatives of [0, 20]) {
      const r = finetuneRecommender(await options({ negatives }));
      const t = r.test;
      assert.equal(t.targetItems, r.targetItems.length);
      assert.equal(t.targetItemsKnownToBase, 0);
      assert.doesNotMatch(t.protocol, /NOT a cold start/);
      assert.ok(t.queries >= t.users && t.users > 50, JSON.stringify(t));
      assert.ok(Number(t['NDCG@10']) > t.popularity['NDCG@10']!, `negatives ${negatives}: ${JSON.stringify(t)}`);
      assert.ok(r.trainedParams < r.totalParams);
      assert.ok(r.trained.some((p) => p.name === 'head.weight' && p.shape[0] === r.targetItems.length));
      // The full softmax has the item-pair table, started at a multiple chosen on validation; sampled has none.
      if (negatives === 0) assert.ok((ITEM_PAIRS_START_SCALES as readonly number[]).includes(r.itemPairsStartScale!), `${r.itemPairsStartScale}`);
      else assert.equal(r.itemPairsStartScale, null);
    }
  });

  it('patches of several tasks share one base in memory and leave it untouched', async () => {
    const dir = tempDir();
    const fingerprint = await baseFingerprint(modelDir);
    const trainedPairs = new Map<string, ItemPairs>();
    for (const strategy of ['peterrec', 'fine-last1'] as const) {
      const spec = { type: 'recommend' as const, sourceDomain: 'source', targetDomain: 'target', negatives: 0, itemPairs: true, ks: [10] };
      const loaded = await loadModelDir(modelDir);
      const r = runTask(spec, { task: strategy, dataset: full, datasetName: 'cold', baseItems: loaded.items, baseConfig: loaded.config.model },
        { ...(await options({ strategy, epochs: 2 })) });
      await writePatchDir(join(dir, strategy), taskCardFor(spec, r, fingerprint, null), r);
      trainedPairs.set(strategy, r.head!.itemPairs!);
    }
    const shared = await loadModelDir(modelDir);
    const before = new Map([...shared.model.parameterMap()].map(([n, p]) => [n, Float32Array.from(p.data)]));
    const a = await loadPatchDir(join(dir, 'peterrec'), shared, fingerprint);
    const b = await loadPatchDir(join(dir, 'fine-last1'), shared, fingerprint);
    // The item-pair table comes back with its support and its learned (nonzero) weights.
    for (const [task, strategy] of [[a, 'peterrec'], [b, 'fine-last1']] as const) {
      const saved = trainedPairs.get(strategy)!;
      assert.ok(saved.weight.data.some((v) => v !== 0), 'the item-pair table learned something');
      assert.deepEqual(task.head.itemPairs?.support, saved.support);
      assert.deepEqual(task.head.itemPairs?.weight.data, saved.weight.data);
    }
    // A card that does not describe the stored table, or describes one that is not stored, is refused.
    const cardPath = join(dir, 'peterrec', 'task.json');
    const card = JSON.parse(readFileSync(cardPath, 'utf8'));
    writeFileSync(cardPath, JSON.stringify({ ...card, itemPairs: false }));
    await assert.rejects(loadPatchDir(join(dir, 'peterrec'), shared, fingerprint), /holds an item-pair table its task card does not describe/);
    writeFileSync(cardPath, JSON.stringify(card));
    const fineLast = JSON.parse(readFileSync(join(dir, 'fine-last1', 'task.json'), 'utf8'));
    const noPairs = join(dir, 'no-pairs');
    await writePatchDir(noPairs, { ...fineLast, itemPairs: false }, { trained: b.head.parameters().filter((p) => !p.name.startsWith('head.item_pairs')), head: { ...b.head, itemPairs: null } as never });
    writeFileSync(join(noPairs, 'task.json'), JSON.stringify(fineLast));
    await assert.rejects(loadPatchDir(noPairs, shared, fingerprint), /describes an item-pair table but head.item_pairs.indptr \/ head.item_pairs.targets \(int32\) are missing/);
    for (const [name, p] of shared.model.parameterMap()) assert.deepEqual(p.data, before.get(name), name);
    assert.ok(shared.model.blocks.every((blk) => blk.patches === null));
    // Unreplaced tensors are the base's own objects; replaced ones are the task's.
    const [pa, pb, ps] = [a, b, shared].map((m) => m.model.parameterMap());
    assert.equal(pa!.get('items.weight'), ps!.get('items.weight'));
    assert.notEqual(pa!.get('block.0.ln2.gamma'), ps!.get('block.0.ln2.gamma'));
    assert.equal(pa!.get('block.0.conv1.weight'), ps!.get('block.0.conv1.weight'));
    assert.notEqual(pb!.get('block.1.conv1.weight'), ps!.get('block.1.conv1.weight'));

    const histories = [Int32Array.from([1, 2, 3]), Int32Array.from([5, 9])];
    const together = [predictTask(a, histories, { k: 5 }), predictTask(b, histories, { k: 5 })];
    const alone = [
      predictTask(await loadPatchDir(join(dir, 'peterrec'), await loadModelDir(modelDir), fingerprint), histories, { k: 5 }),
      predictTask(await loadPatchDir(join(dir, 'fine-last1'), await loadModelDir(modelDir), fingerprint), histories, { k: 5 }),
    ];
    assert.deepEqual(together, alone);
    assert.notDeepEqual(together[0], together[1]);
  });

  it('CLI: experiment transfer --type recommend writes the baselines once per seed, in results.json and as table rows', () => {
    const out = join(tempDir(), 'experiment');
    const r = spawnSync(process.execPath, [CLI, 'experiment', 'transfer', '--model', modelDir, '--data', fullDir, '--task', 'cold',
      '--type', 'recommend', '--source-domain', 'source', '--target-domain', 'target', '--strategies', 'fine-cls',
      '--seeds', '1,2', '--epochs', '1', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    assert.deepEqual(results.baselines.map((b: { seed: number }) => b.seed), [1, 2]);
    for (const b of results.baselines) {
      const run = results.runs.find((x: { seed: number }) => x.seed === b.seed);
      assert.deepEqual(b.popularity, run.test.popularity, 'the same test queries as the run of that seed');
      assert.equal(typeof b.cooccurrence['NDCG@10'], 'number');
    }
    const table = readFileSync(join(out, 'results.md'), 'utf8');
    assert.match(table, /\| baseline: popularity \| – \| 0\.\d{4} ± 0\.\d{4} \|/);
    assert.match(table, /\| baseline: item co-occurrence \| – \| 0\.\d{4} ± 0\.\d{4} \|/);
    assert.match(r.stderr, /baselines seed 2: popularity .* item co-occurrence/);
  });

  it('CLI: finetune --type recommend prints HR/NDCG/MRR and the popularity and co-occurrence baselines; predict recommends target items', () => {
    const out = join(tempDir(), 'cold-patch');
    const r = spawnSync(process.execPath, [CLI, 'finetune', '--model', modelDir, '--data', fullDir, '--task', 'cold',
      '--type', 'recommend', '--source-domain', 'source', '--target-domain', 'target', '--epochs', '2', '--k', '5',
      '--out', out, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    for (const key of ['HR@5', 'NDCG@5', 'MRR@5', 'HR@10', 'NDCG@10']) assert.equal(typeof summary.test[key], 'number', key);
    assert.equal(typeof summary.test.popularity['HR@10'], 'number');
    assert.deepEqual(summary.baselines.popularity, summary.test.popularity, 'both rank the same test queries');
    const cooccurrence = summary.baselines.cooccurrence;
    for (const key of ['HR@5', 'NDCG@5', 'HR@10', 'NDCG@10', 'shrink', 'popularityWeight']) assert.equal(typeof cooccurrence[key], 'number', key);
    assert.ok(cooccurrence['NDCG@10'] > summary.baselines.popularity['NDCG@10'], JSON.stringify(summary.baselines));
    // The verdict: the task's validation NDCG@10 against the better baseline's on the validation users.
    const { validation } = summary.baselines;
    const better = validation.cooccurrence >= validation.popularity ? ['item co-occurrence', validation.cooccurrence] : ['popularity', validation.popularity];
    assert.deepEqual(summary.verdict, {
      metric: 'NDCG@10', task: summary.validationScore, baseline: better[0], baselineValue: better[1], ahead: summary.validationScore > better[1],
    });
    const card = JSON.parse(readFileSync(join(out, 'task.json'), 'utf8'));
    assert.equal(card.type, 'recommend');
    assert.equal(card.sourceDomain, 'source');
    // The bytes reported are the patch file's, the item-pair table's int32 support included.
    assert.equal(card.itemPairs, true);
    assert.equal(statSync(join(out, 'patch.safetensors')).size, summary.patchBytes);

    const user = full.users[0]!;
    const p = spawnSync(process.execPath, [CLI, 'predict', '--model', modelDir, '--patch', out, '--user', user,
      '--data', fullDir, '--k', '3', '--json'], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    const recs = JSON.parse(p.stdout).recommendations as { item: string; score: number }[];
    assert.equal(recs.length, 3);
    assert.ok(recs.every((x) => card.targetItems.includes(x.item)));
    assert.ok(recs[0]!.score >= recs[1]!.score && recs[1]!.score >= recs[2]!.score);

    const noDomains = spawnSync(process.execPath, [CLI, 'finetune', '--model', modelDir, '--data', fullDir, '--task', 'x',
      '--type', 'recommend', '--source-domain', 'source', '--out', join(tempDir(), 'never')], { encoding: 'utf8' });
    assert.notEqual(noDomains.status, 0);
    assert.match(noDomains.stderr, /--type recommend needs --source-domain and --target-domain/);
    const bad = join(tempDir(), 'never');
    const unknown = spawnSync(process.execPath, [CLI, 'finetune', '--model', modelDir, '--data', fullDir, '--task', 'x',
      '--type', 'recommend', '--source-domain', 'source', '--target-domain', 'books', '--out', bad], { encoding: 'utf8' });
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /unknown target domain "books"/);
    assert.equal(existsSync(bad), false);
  });
});
