import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Dataset, loadDataset } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { itemCounts, leaveOneOutSplit } from '../../src/data/split.js';
import { writeSynthetic } from '../../src/data/synth.js';
import { evaluateNextItem } from '../../src/eval/evaluate.js';
import { encodeHistories } from '../../src/models/encoder.js';
import { loadModelDir, writeModelFiles } from '../../src/train/checkpoint.js';
import { finetuneClassifier } from '../../src/transfer/classify.js';
import { TUNING_DEFAULTS } from '../../src/transfer/task.js';
import { tempDir } from '../helpers/datasets.js';
import { CLI as cli } from '../helpers/cli.js';

const graftrec = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

let root: string;
let dataDir: string;
let data: Dataset;
let modelDir: string;

before(async () => {
  root = tempDir();
  await writeSynthetic(join(root, 'raw'), { users: 800, items: 300, domains: 1, seed: 7 });
  dataDir = join(root, 'ds');
  await ingest({ input: join(root, 'raw', 'interactions.csv'), attributes: join(root, 'raw', 'users.csv'), out: dataDir });
  data = await loadDataset(dataDir);
  modelDir = join(root, 'gru4rec');
  const r = graftrec('pretrain', '--backbone', 'gru4rec', '--data', dataDir, '--out', modelDir, '--dim', '32',
    '--max-len', '20', '--epochs', '8', '--batch', '64', '--lr', '0.01', '--quiet', '--json');
  assert.equal(r.status, 0, r.stderr);
});

describe('GRU4Rec end to end (CLI pretrain → evaluate → finetune)', () => {
  it('pretraining lowers the loss and beats popularity on HR@10 by a wide margin', async () => {
    const epochs = readFileSync(join(modelDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { trainLoss: number });
    assert.ok(epochs.at(-1)!.trainLoss < epochs[0]!.trainLoss - 0.5, epochs.map((e) => e.trainLoss.toFixed(3)).join(' → '));
    const { model, config } = await loadModelDir(modelDir);
    assert.equal(config.model.backbone, 'gru4rec');
    assert.deepEqual([config.model.dim, config.model.layers, config.model.dropout], [32, 1, 0.25], 'the backbone defaults were used');
    const split = leaveOneOutSplit(data);
    const r = evaluateNextItem(model, split.test, itemCounts(split.train, data.meta.numItems), { ks: [10], maskHistory: false });
    const [modelHr, popHr] = [r.metrics['HR@10']!, r.popularity!['HR@10']!];
    assert.ok(modelHr > 2 * popHr && modelHr - popHr > 0.1, `model HR@10 ${modelHr.toFixed(3)} vs popularity ${popHr.toFixed(3)}`);

    const cliEval = graftrec('evaluate', '--model', modelDir, '--data', dataDir, '--k', '10', '--json');
    assert.equal(cliEval.status, 0, cliEval.stderr);
    assert.ok(cliEval.stdout.includes('HR@10'), cliEval.stdout);
  });

  it('a saved and reloaded model gives bit-identical user vectors', async () => {
    const { model, config, items } = await loadModelDir(modelDir);
    const copy = join(tempDir(), 'copy');
    mkdirSync(copy);
    await writeModelFiles(copy, config, model, items);
    const histories = [data.sequences.subarray(0, 9), data.sequences.subarray(20, 24)];
    assert.deepEqual(encodeHistories((await loadModelDir(copy)).model, histories), encodeHistories(model, histories));
  });

  it('transfers to an attribute with fine-cls and fine-all; fine-cls leaves the base tensors untouched', async () => {
    for (const strategy of ['fine-cls', 'fine-all'] as const) {
      const { model } = await loadModelDir(modelDir);
      const frozen = new Map(model.parameters().map((p) => [p.name, Float32Array.from(p.data)]));
      const r = finetuneClassifier({
        ...TUNING_DEFAULTS, model, dataset: data, datasetName: 'synth', label: 'gender', bins: null, strategy,
        insertion: null, epochs: 6, batch: 64, lr: 0.003, patience: 3, testFraction: 0.2, seed: 1,
      });
      assert.ok(r.test.accuracy > r.test.majorityAccuracy + 0.05, `${strategy}: ${JSON.stringify(r.test)}`);
      const trained = new Set(r.trained.map((p) => p.name));
      assert.equal(trained.has('gru.0.hidden.weight'), strategy === 'fine-all');
      for (const p of model.parameters()) if (!trained.has(p.name)) assert.deepEqual(p.data, frozen.get(p.name), `${strategy} changed ${p.name}`);
    }
  });

  it('CLI: finetune --strategy fine-cls works; peterrec and the masked objective are refused with clear errors', () => {
    const ok = graftrec('finetune', '--model', modelDir, '--data', dataDir, '--task', 'g', '--label', 'gender',
      '--strategy', 'fine-cls', '--epochs', '1', '--out', join(tempDir(), 'cls'), '--json');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).insertion, null);

    const peter = join(tempDir(), 'peter');
    const refused = graftrec('finetune', '--model', modelDir, '--data', dataDir, '--task', 'g', '--label', 'gender',
      '--strategy', 'peterrec', '--epochs', '1', '--out', peter);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /a gru4rec model has no insertion points for patches/);
    assert.equal(existsSync(peter), false);

    const out = join(tempDir(), 'never');
    const masked = graftrec('pretrain', '--data', dataDir, '--out', out, '--quiet', '--backbone', 'gru4rec', '--objective', 'masked');
    assert.notEqual(masked.status, 0);
    assert.match(masked.stderr.split('\n')[0]!, /masked objective needs the nextitnet or bert4rec backbone \(gru4rec is causal\)/);
    assert.equal(existsSync(out), false);
  });

  it('CLI: experiment transfer runs the strategies the backbone takes by default and refuses a patched one up front', () => {
    const out = join(tempDir(), 'grid');
    const r = graftrec('experiment', 'transfer', '--model', modelDir, '--data', dataDir, '--task', 'g', '--label', 'gender',
      '--seeds', '1', '--epochs', '1', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const ran = (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: { strategy: string }[] }).runs.map((x) => x.strategy);
    assert.deepEqual(ran, ['fine-all', 'fine-cls', 'fine-last1', 'fine-last2']);

    const never = join(tempDir(), 'never-grid');
    const refused = graftrec('experiment', 'transfer', '--model', modelDir, '--data', dataDir, '--task', 'g', '--label', 'gender',
      '--strategies', 'fine-cls,peterrec', '--seeds', '1', '--epochs', '1', '--out', never);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /a gru4rec model has no insertion points for patches/);
    assert.doesNotMatch(refused.stderr, /fine-cls seed 1/, 'nothing ran before the refusal');
    assert.equal(existsSync(never), false);
  });
});
