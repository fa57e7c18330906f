import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { Dataset, loadDataset } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { itemCounts, leaveOneOutSplit } from '../../src/data/split.js';
import { writeSynthetic } from '../../src/data/synth.js';
import { evaluateNextItem } from '../../src/eval/evaluate.js';
import { encodeHistories } from '../../src/models/encoder.js';
import { loadModelDir, writeModelFiles } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
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
  modelDir = join(root, 'bert4rec');
  // No --objective: masked is bert4rec's default.
  const r = graftrec('pretrain', '--backbone', 'bert4rec', '--data', dataDir, '--out', modelDir, '--dim', '32',
    '--max-len', '20', '--epochs', '12', '--batch', '64', '--lr', '0.003', '--quiet', '--json');
  assert.equal(r.status, 0, r.stderr);
});

describe('BERT4Rec end to end (CLI pretrain → evaluate → finetune → predict)', () => {
  it('masked-item pretraining lowers the loss and beats popularity on HR@10 by a wide margin', async () => {
    const epochs = readFileSync(join(modelDir, 'metrics.jsonl'), 'utf8').trim().split('\n')
      .map((l) => JSON.parse(l) as { trainLoss: number; trainLosses: Record<string, number> });
    assert.deepEqual(Object.keys(epochs[0]!.trainLosses), ['masked-item']);
    assert.ok(epochs.at(-1)!.trainLoss < epochs[0]!.trainLoss - 0.3, epochs.map((e) => e.trainLoss.toFixed(3)).join(' → '));
    const { model, config } = await loadModelDir(modelDir);
    assert.equal(config.model.backbone, 'bert4rec');
    assert.deepEqual([config.model.objective, config.model.dim, config.model.layers, config.model.heads, config.model.dropout],
      ['masked', 32, 2, 2, 0.1], 'the backbone defaults were used');
    const split = leaveOneOutSplit(data);
    const r = evaluateNextItem(model, split.test, itemCounts(split.train, data.meta.numItems), { ks: [10], maskHistory: false });
    const [modelHr, popHr] = [r.metrics['HR@10']!, r.popularity!['HR@10']!];
    assert.ok(modelHr > 2 * popHr && modelHr - popHr > 0.1, `model HR@10 ${modelHr.toFixed(3)} vs popularity ${popHr.toFixed(3)}`);

    const cliEval = graftrec('evaluate', '--model', modelDir, '--data', dataDir, '--k', '10', '--sampled', '100', '--json');
    assert.equal(cliEval.status, 0, cliEval.stderr);
    const sampled = JSON.parse(cliEval.stdout) as Record<string, number>;
    assert.ok(sampled['HR@10']! > modelHr, 'ranking among 101 candidates is easier than among all items');
  });

  it('a saved and reloaded model gives bit-identical user vectors', async () => {
    const { model, config, items } = await loadModelDir(modelDir);
    const copy = join(tempDir(), 'copy');
    mkdirSync(copy);
    await writeModelFiles(copy, config, model, items);
    const histories = [data.sequences.subarray(0, 9), data.sequences.subarray(20, 24)];
    assert.deepEqual(encodeHistories((await loadModelDir(copy)).model, histories), encodeHistories(model, histories));
  });

  it('transfers to an attribute with fine-cls, fine-all and peterrec; peterrec leaves the base tensors untouched', async () => {
    for (const strategy of ['fine-cls', 'fine-all', 'peterrec'] as const) {
      const { model } = await loadModelDir(modelDir);
      const frozen = new Map(model.parameters().map((p) => [p.name, Float32Array.from(p.data)]));
      const r = finetuneClassifier({
        ...TUNING_DEFAULTS, model, dataset: data, datasetName: 'synth', label: 'gender', bins: null, strategy,
        insertion: 'serial-each-sublayer', epochs: 6, batch: 64, lr: 0.003, patience: 3, testFraction: 0.2, seed: 1,
      });
      assert.ok(r.test.accuracy > r.test.majorityAccuracy + 0.05, `${strategy}: ${JSON.stringify(r.test)}`);
      const trained = new Set(r.trained.map((p) => p.name));
      if (strategy === 'peterrec') {
        assert.ok(trained.has('patch.0.attention.down.weight') && trained.has('patch.1.feedforward.up.weight') && trained.has('output.norm.gamma'));
        assert.ok(!trained.has('block.0.attention.query.weight') && !trained.has('items.weight'));
        assert.ok(r.trainedParams < 0.5 * r.totalParams, `${r.trainedParams} of ${r.totalParams}`);
      }
      for (const p of model.parameters()) if (!trained.has(p.name)) assert.deepEqual(p.data, frozen.get(p.name), `${strategy} changed ${p.name}`);
    }
  });

  it('CLI: peterrec and peter-zero patches predict on their BERT4Rec base; a NextItNet patch is refused', async () => {
    const predict = (patchDir: string) => graftrec('predict', '--model', modelDir, '--patch', patchDir, '--user', data.users[0]!, '--data', dataDir, '--json');
    for (const strategy of ['peterrec', 'peter-zero']) {
      const patch = join(tempDir(), strategy);
      const ft = graftrec('finetune', '--model', modelDir, '--data', dataDir, '--task', 'gender', '--label', 'gender',
        '--strategy', strategy, '--epochs', '2', '--out', patch, '--json');
      assert.equal(ft.status, 0, ft.stderr);
      assert.equal(JSON.parse(ft.stdout).insertion, 'serial-each-sublayer');
      assert.equal(JSON.parse(readFileSync(join(patch, 'task.json'), 'utf8')).backbone, 'bert4rec');
      const p = predict(patch);
      assert.equal(p.status, 0, p.stderr);
      assert.ok(['F', 'M'].includes(JSON.parse(p.stdout).label), p.stdout);
    }

    const nextitnet = join(root, 'nextitnet');
    await pretrain({ data: dataDir, out: nextitnet, model: { ...MODEL_DEFAULTS, dim: 8, blocks: 1, maxLen: 10 }, train: { ...TRAIN_DEFAULTS, epochs: 1 } });
    const foreign = join(tempDir(), 'foreign');
    const ftn = graftrec('finetune', '--model', nextitnet, '--data', dataDir, '--task', 'g', '--label', 'gender', '--strategy', 'fine-cls', '--epochs', '1', '--out', foreign);
    assert.equal(ftn.status, 0, ftn.stderr);
    const refused = predict(foreign);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /this patch is for a nextitnet model, but the base model is bert4rec; refusing to load it/);
  });

  it('CLI: masked+contrastive pretrains; the causal objective and bad heads give one clear error line, exit ≠ 0 and write nothing', () => {
    const joint = join(tempDir(), 'joint');
    const ok = graftrec('pretrain', '--data', dataDir, '--out', joint, '--quiet', '--json', '--backbone', 'bert4rec',
      '--objective', 'masked+contrastive', '--dim', '16', '--max-len', '10', '--epochs', '1');
    assert.equal(ok.status, 0, ok.stderr);
    const losses = JSON.parse(readFileSync(join(joint, 'metrics.jsonl'), 'utf8').trim()).trainLosses as Record<string, number>;
    assert.deepEqual(Object.keys(losses).sort(), ['contrastive', 'masked-item']);

    const cases: [string[], RegExp][] = [
      [['--backbone', 'bert4rec', '--objective', 'causal'], /the causal objective does not fit bert4rec, a bidirectional model/],
      [['--backbone', 'bert4rec', '--objective', 'contrastive'], /contrastive trains a causal network; bert4rec trains masked items: use --objective masked\+contrastive/],
      [['--backbone', 'bert4rec', '--dim', '64', '--heads', '3'], /3 attention heads do not divide dim 64/],
    ];
    for (const [args, message] of cases) {
      const out = join(tempDir(), 'never');
      const r = graftrec('pretrain', '--data', dataDir, '--out', out, '--quiet', ...args);
      assert.notEqual(r.status, 0, args.join(' '));
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, message);
      assert.equal(existsSync(out), false, `${args.join(' ')} wrote ${out}`);
    }
  });
});
