import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  modelDir = join(root, 'sasrec');
  const r = graftrec('pretrain', '--backbone', 'sasrec', '--data', dataDir, '--out', modelDir, '--dim', '32', '--layers', '2',
    '--heads', '2', '--dropout', '0.2', '--max-len', '20', '--epochs', '6', '--batch', '64', '--lr', '0.003', '--quiet', '--json');
  assert.equal(r.status, 0, r.stderr);
});

describe('SASRec end to end (CLI pretrain → evaluate → finetune → predict)', () => {
  it('pretraining lowers the loss and beats popularity on HR@10 by a wide margin', async () => {
    const epochs = readFileSync(join(modelDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { trainLoss: number });
    assert.ok(epochs.at(-1)!.trainLoss < epochs[0]!.trainLoss - 0.5, epochs.map((e) => e.trainLoss.toFixed(3)).join(' → '));
    const { model, config } = await loadModelDir(modelDir);
    assert.equal(config.model.backbone, 'sasrec');
    assert.deepEqual([config.model.dim, config.model.layers, config.model.heads, config.model.dropout], [32, 2, 2, 0.2]);
    const split = leaveOneOutSplit(data);
    const r = evaluateNextItem(model, split.test, itemCounts(split.train, data.meta.numItems), { ks: [10], maskHistory: false });
    const [modelHr, popHr] = [r.metrics['HR@10']!, r.popularity!['HR@10']!];
    assert.ok(modelHr > 2 * popHr && modelHr - popHr > 0.1, `model HR@10 ${modelHr.toFixed(3)} vs popularity ${popHr.toFixed(3)}`);

    const cliEval = graftrec('evaluate', '--model', modelDir, '--data', dataDir, '--k', '10', '--json');
    assert.equal(cliEval.status, 0, cliEval.stderr);
    assert.equal(JSON.stringify(cliEval.stdout).includes('HR@10'), true);
  });

  it('a saved and reloaded model gives bit-identical user vectors; weights of another backbone are refused', async () => {
    const { model, config, items } = await loadModelDir(modelDir);
    const copy = join(tempDir(), 'copy');
    mkdirSync(copy);
    await writeModelFiles(copy, config, model, items);
    const histories = [data.sequences.subarray(0, 9), data.sequences.subarray(20, 24)];
    assert.deepEqual(encodeHistories((await loadModelDir(copy)).model, histories), encodeHistories(model, histories));

    const mislabelled = join(tempDir(), 'mislabelled');
    cpSync(modelDir, mislabelled, { recursive: true });
    const file = JSON.parse(readFileSync(join(mislabelled, 'config.json'), 'utf8'));
    file.model.backbone = 'nextitnet';
    writeFileSync(join(mislabelled, 'config.json'), JSON.stringify(file));
    await assert.rejects(loadModelDir(mislabelled), /holds a sasrec model, but .*config\.json says nextitnet; refusing to load it/);
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
        assert.ok(trained.has('patch.0.attention.down.weight') && trained.has('patch.1.feedforward.up.weight') && trained.has('final_norm.gamma'));
        assert.ok(!trained.has('block.0.attention.query.weight') && !trained.has('items.weight'));
        assert.ok(r.trainedParams < 0.5 * r.totalParams, `${r.trainedParams} of ${r.totalParams}`);
      }
      for (const p of model.parameters()) if (!trained.has(p.name)) assert.deepEqual(p.data, frozen.get(p.name), `${strategy} changed ${p.name}`);
    }
  });

  it('CLI: a peterrec patch predicts on its SASRec base; a NextItNet patch is refused with a clear error', async () => {
    const patch = join(tempDir(), 'gender');
    const ft = graftrec('finetune', '--model', modelDir, '--data', dataDir, '--task', 'gender', '--label', 'gender',
      '--strategy', 'peterrec', '--epochs', '2', '--out', patch, '--json');
    assert.equal(ft.status, 0, ft.stderr);
    assert.equal(JSON.parse(ft.stdout).insertion, 'serial-each-sublayer');
    assert.equal(JSON.parse(readFileSync(join(patch, 'task.json'), 'utf8')).backbone, 'sasrec');
    const predict = (patchDir: string) => graftrec('predict', '--model', modelDir, '--patch', patchDir, '--user', data.users[0]!, '--data', dataDir, '--json');
    const p = predict(patch);
    assert.equal(p.status, 0, p.stderr);
    assert.ok(['F', 'M'].includes(JSON.parse(p.stdout).label), p.stdout);

    const nextitnet = join(root, 'nextitnet');
    await pretrain({ data: dataDir, out: nextitnet, model: { ...MODEL_DEFAULTS, dim: 8, blocks: 1, maxLen: 10 }, train: { ...TRAIN_DEFAULTS, epochs: 1 } });
    const foreign = join(tempDir(), 'foreign');
    const ftn = graftrec('finetune', '--model', nextitnet, '--data', dataDir, '--task', 'g', '--label', 'gender', '--strategy', 'fine-cls', '--epochs', '1', '--out', foreign);
    assert.equal(ftn.status, 0, ftn.stderr);
    const refused = predict(foreign);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /this patch is for a nextitnet model, but the base model is sasrec; refusing to load it/);
  });

  it('CLI: bad model options give one clear error line, exit ≠ 0 and write nothing', () => {
    const cases: [string[], RegExp][] = [
      [['--backbone', 'sasrec', '--dim', '50', '--heads', '3'], /3 attention heads do not divide dim 50/],
      [['--backbone', 'gru5rec'], /backbone must be one of nextitnet, sasrec, bert4rec, gru4rec, got "gru5rec"/],
      [['--backbone', 'sasrec', '--dropout', '1'], /dropout must be a number in \[0, 1\), got "1"/],
      [['--backbone', 'sasrec', '--objective', 'masked'], /masked objective needs the nextitnet or bert4rec backbone/],
    ];
    for (const [args, message] of cases) {
      const out = join(tempDir(), 'never');
      const r = graftrec('pretrain', '--data', dataDir, '--out', out, '--quiet', ...args);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr.split('\n')[0]!, message);
      assert.equal(existsSync(out), false, `${args.join(' ')} wrote ${out}`);
    }
  });
});
