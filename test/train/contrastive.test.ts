import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS, TrainConfig } from '../../src/config/schema.js';
import { saveDataset } from '../../src/data/dataset.js';
import { encodeHistories } from '../../src/models/encoder.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { Rng } from '../../src/tensor/index.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { datasetFromSequences, savedCyclicDataset, tempDir, traitSequences } from '../helpers/datasets.js';
import { CLI as cli } from '../helpers/cli.js';

const quiet = { progress: { start() {}, update() {}, stop() {} } };

function safetensorsKeys(path: string): string[] {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  return Object.keys(JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'))).filter((k) => k !== '__metadata__');
}

/**
 * Held-out accuracy of an L2-regularised logistic regression on standardised vectors (users with index ≡ 0, 1
 * mod 6 held out, so both traits are in both halves): a linear probe of what the vectors hold.
 */
function linearProbeAccuracy(vectors: Float32Array, labels: number[], dim: number): number {
  const n = labels.length;
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let c = 0; c < dim; c++) mean[c] += vectors[i * dim + c]! / n;
  for (let i = 0; i < n; i++) for (let c = 0; c < dim; c++) std[c] += (vectors[i * dim + c]! - mean[c]!) ** 2 / n;
  const x = (i: number, c: number) => (vectors[i * dim + c]! - mean[c]!) / Math.sqrt(std[c]! + 1e-12);
  const heldOut = (i: number) => i % 6 < 2;
  const w = new Float64Array(dim);
  let b = 0;
  const score = (i: number) => {
    let s = b;
    for (let c = 0; c < dim; c++) s += w[c]! * x(i, c);
    return s;
  };
  const fit = Array.from({ length: n }, (_, i) => i).filter((i) => !heldOut(i));
  for (let step = 0; step < 300; step++) {
    const gw = new Float64Array(dim);
    let gb = 0;
    for (const i of fit) {
      const err = 1 / (1 + Math.exp(-score(i))) - labels[i]!;
      gb += err;
      for (let c = 0; c < dim; c++) gw[c] += err * x(i, c);
    }
    for (let c = 0; c < dim; c++) w[c] -= 0.5 * (gw[c]! / fit.length + 0.01 * w[c]!);
    b -= (0.5 * gb) / fit.length;
  }
  const test = Array.from({ length: n }, (_, i) => i).filter(heldOut);
  return test.filter((i) => (score(i) > 0) === (labels[i] === 1)).length / test.length;
}

describe('contrastive pretraining', () => {
  it('its loss falls, and its mean-pooled user vectors reveal a whole-sequence trait that causal vectors miss', async () => {
    const { sequences, traits, numItems } = traitSequences(600, 20, 1);
    const data = join(tempDir(), 'traits');
    await saveDataset(data, datasetFromSequences(sequences, numItems));
    const model = { ...MODEL_DEFAULTS, dim: 16, blocks: 2, maxLen: 20 };
    const train: TrainConfig = { ...TRAIN_DEFAULTS, epochs: 10, batch: 64, lr: 0.005 };
    const probe = async (objective: 'causal' | 'contrastive') => {
      const out = join(tempDir(), objective);
      const result = await pretrain({ data, out, model, train: { ...train, objective }, ...quiet });
      const { model: m } = await loadModelDir(out);
      const vectors = encodeHistories(m, sequences.map((s) => Int32Array.from(s)), { pooling: 'mean', windows: 1 });
      return { result, accuracy: linearProbeAccuracy(vectors, traits, model.dim) };
    };
    const causal = await probe('causal');
    const contrastive = await probe('contrastive');
    const losses = contrastive.result.history.map((h) => h.trainLosses.contrastive!);
    assert.ok(losses[losses.length - 1]! < losses[0]! - 0.3, `contrastive loss ${losses.map((l) => l.toFixed(3)).join(' → ')}`);
    assert.equal(contrastive.result.bestEpoch, contrastive.result.epochs, 'contrastive alone keeps the latest epoch');
    assert.ok(contrastive.accuracy >= 0.75 && contrastive.accuracy >= causal.accuracy + 0.1,
      `trait probe: contrastive ${contrastive.accuracy.toFixed(3)} vs causal ${causal.accuracy.toFixed(3)}`);
  });

  it('the saved base model leaves the projection head out; the checkpoint keeps it, and --resume continues exactly', async () => {
    const data = await savedCyclicDataset(60, 20, 8);
    const model = { ...MODEL_DEFAULTS, dim: 8, blocks: 1, maxLen: 8 };
    const train: TrainConfig = { ...TRAIN_DEFAULTS, epochs: 3, batch: 16, lr: 0.005, objective: 'causal+contrastive' };
    const straight = join(tempDir(), 'straight');
    const resumed = join(tempDir(), 'resumed');
    const full = await pretrain({ data, out: straight, model, train, ...quiet });
    await pretrain({ data, out: resumed, model, train: { ...train, epochs: 1 }, ...quiet });
    const rest = await pretrain({ data, out: resumed, model, train, resume: true, ...quiet });
    assert.deepEqual(rest.history.map((h) => h.trainLosses), full.history.slice(1).map((h) => h.trainLosses));

    const base = safetensorsKeys(join(straight, 'model.safetensors'));
    assert.ok(base.includes('output.weight') && base.includes('items.weight'));
    assert.ok(!base.some((k) => k.startsWith('projection.')), `base model keys: ${base.join(', ')}`);
    assert.ok(safetensorsKeys(join(straight, 'checkpoint', 'model.safetensors')).includes('projection.out.weight'));
    const { config } = await loadModelDir(straight);
    assert.equal(config.model.objective, 'causal');
    assert.equal(config.train.objective, 'causal+contrastive');
    const metrics = readFileSync(join(straight, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(Object.keys(metrics[0].trainLosses), ['next-item', 'contrastive']);

    const masked = await pretrain({ data, out: join(tempDir(), 'masked'), model, train: { ...train, epochs: 1, objective: 'masked+contrastive' }, ...quiet });
    assert.deepEqual(Object.keys(masked.history[0]!.trainLosses), ['masked-item', 'contrastive']);
  });

  it('at weight 0 a joint run trains exactly as next-item alone: its views draw from their own stream and touch only input rows', async () => {
    // 300 items over 60 users of 14: most items are rare, so a window's last item (a target only) is often in no
    // other input of its batch, and views holding it would move its item row. Three epochs compared at the last
    // one (the checkpoint, not the best epoch): a shared stream would reshuffle epochs 2 and 3.
    const rng = new Rng(4);
    const sequences = Array.from({ length: 60 }, () => Array.from({ length: 14 }, () => rng.int(1, 301)));
    const data = join(tempDir(), 'rare');
    await saveDataset(data, datasetFromSequences(sequences, 300));
    const model = { ...MODEL_DEFAULTS, dim: 8, blocks: 1, maxLen: 8 };
    const train: TrainConfig = { ...TRAIN_DEFAULTS, epochs: 3, batch: 16, lr: 0.005, patience: 10 };
    const lastWeights = async (objective: TrainConfig['objective'], weight: number) => {
      const out = join(tempDir(), `${objective}-${weight}`);
      await pretrain({ data, out, model, train: { ...train, objective, contrastive: { ...train.contrastive, weight } }, ...quiet });
      const { tensors } = await readSafetensors(join(out, 'checkpoint', 'model.safetensors'));
      return [...tensors].filter(([name]) => !name.startsWith('projection.')).map(([name, t]) => [name, Array.from(t.data)] as const);
    };
    const causal = await lastWeights('causal', 0.1);
    assert.ok(causal.length > 0);
    assert.deepEqual(await lastWeights('causal+contrastive', 0), causal);
    assert.notDeepEqual(await lastWeights('causal+contrastive', 0.1), causal, 'a positive weight changes the weights (the comparison can tell)');
  });

  it('CLI: joint objective trains; bad objective, weight, temperature or rates → one clear error line, nothing written', async () => {
    const data = await savedCyclicDataset(40, 12, 6);
    const command = (args: string[]) => [cli, 'pretrain', '--data', data, ...args];
    const run = (...args: string[]) => spawnSync(process.execPath, command(args), { encoding: 'utf8' });
    const runAsync = (...args: string[]) => new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, command(args));
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (status) => resolve({ status, stderr }));
    });
    const out = join(tempDir(), 'joint');
    const ok = run('--out', out, '--dim', '8', '--blocks', '1', '--max-len', '6', '--epochs', '1', '--objective', 'causal+contrastive',
      '--contrastive-weight', '0.2', '--temperature', '0.3', '--crop', '0.8', '--mask-rate', '0.2', '--reorder', '0.5', '--projection-dim', '4', '--json', '--quiet');
    assert.equal(ok.status, 0, ok.stderr);
    const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.deepEqual(saved.train.contrastive, { weight: 0.2, temperature: 0.3, projectionDim: 4, crop: 0.8, maskRate: 0.2, reorder: 0.5 });

    const bad: [string[], RegExp][] = [
      [['--objective', 'clue'], /objective must be one of causal, masked, contrastive, causal\+contrastive, masked\+contrastive, got "clue"/],
      [['--contrastive-weight', '-0.1'], /contrastive-weight must be a number ≥ 0, got "-0.1"/],
      [['--temperature', '0'], /temperature must be a number > 0, got "0"/],
      [['--crop', '0'], /crop must be a number in \(0, 1\], got "0"/],
      [['--mask-rate', '1'], /mask-rate must be a number in \[0, 1\), got "1"/],
      [['--reorder', '1.5'], /reorder must be a number in \[0, 1\], got "1.5"/],
    ];
    // Started together: each run is mostly process start-up.
    const runs = bad.map(([args]) => {
      const never = join(tempDir(), 'never');
      return { never, result: runAsync('--out', never, ...args) };
    });
    for (const [i, [args, message]] of bad.entries()) {
      const r = await runs[i]!.result;
      assert.notEqual(r.status, 0, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one error line for ${args.join(' ')}: ${r.stderr}`);
      assert.equal(existsSync(runs[i]!.never), false, `${args.join(' ')} wrote ${runs[i]!.never}`);
    }
  });
});
