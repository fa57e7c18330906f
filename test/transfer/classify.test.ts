import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { Dataset, loadDataset } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { writeSynthetic } from '../../src/data/synth.js';
import { DataError } from '../../src/errors.js';
import { encodeHistories } from '../../src/models/encoder.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { ClassifyOptions, finetuneClassifier } from '../../src/transfer/classify.js';
import { experimentTable, runTransferExperiment } from '../../src/transfer/experiment.js';
import { userLabels } from '../../src/transfer/labels.js';
import { tempDir } from '../helpers/datasets.js';
import { TUNING_DEFAULTS } from '../../src/transfer/task.js';
import { CLI as cli } from '../helpers/cli.js';

let data: Dataset;
let dataDir: string;
let modelDir: string;

before(async () => {
  const root = tempDir();
  await writeSynthetic(join(root, 'raw'), { users: 1000, items: 200, domains: 1, seed: 3 });
  await ingest({ input: join(root, 'raw', 'interactions.csv'), attributes: join(root, 'raw', 'users.csv'), out: join(root, 'ds') });
  dataDir = join(root, 'ds');
  data = await loadDataset(dataDir);
  modelDir = join(root, 'model');
  await pretrain({
    data: join(root, 'ds'), out: modelDir, model: { ...MODEL_DEFAULTS, dim: 32, blocks: 2, maxLen: 20 },
    train: { ...TRAIN_DEFAULTS, epochs: 3, batch: 64, lr: 0.003 },
  });
});

async function run(over: Partial<ClassifyOptions>) {
  const { model } = await loadModelDir(modelDir);
  return finetuneClassifier({
    ...TUNING_DEFAULTS, model, dataset: data, datasetName: 'synth', label: 'gender', bins: null, strategy: 'peterrec',
    insertion: 'serial-each-conv', epochs: 10, batch: 64, lr: 0.003, patience: 3, testFraction: 0.2, seed: 1, ...over,
  });
}

describe('attribute classification by transfer', () => {
  it('peterrec beats the majority class, trains a small fraction of the weights, and leaves the backbone untouched', async () => {
    const { model } = await loadModelDir(modelDir);
    const before = new Map(model.parameters().map((p) => [p.name, Float32Array.from(p.data)]));
    const r = await run({ model });
    assert.ok(r.test.accuracy > r.test.majorityAccuracy + 0.1, JSON.stringify(r.test));
    assert.ok(r.test.auc! > 0.6 && r.test.macroF1 > 0.5, JSON.stringify(r.test));
    assert.ok(r.trainedParams < 0.5 * r.totalParams, `${r.trainedParams} of ${r.totalParams}`);
    const trainedNames = new Set(r.trained.map((p) => p.name));
    assert.ok(!trainedNames.has('block.0.conv1.weight') && trainedNames.has('block.0.ln2.gamma'));
    // The network fine-tuning ran on, in memory: every frozen tensor holds exactly its pretrained values, and the
    // trained backbone tensors (the second LayerNorms) did move.
    let frozen = 0;
    for (const p of model.parameters()) {
      if (trainedNames.has(p.name)) continue;
      assert.deepEqual(p.data, before.get(p.name), `frozen ${p.name} changed`);
      frozen++;
    }
    assert.ok(frozen >= 10, `${frozen} frozen tensors checked`);
    assert.ok(model.parameters().some((p) => trainedNames.has(p.name) && !p.data.every((v, i) => v === before.get(p.name)![i])),
      'the trained LayerNorms moved');
  });

  it('different histories keep different user vectors after fine-tuning (no collapse, PeterRec issue #11)', async () => {
    const { model } = await loadModelDir(modelDir);
    await finetuneClassifier({
      ...TUNING_DEFAULTS, model, dataset: data, datasetName: 'synth', label: 'life_stage', bins: null, strategy: 'peterrec',
      insertion: 'parallel-each-conv', epochs: 2, batch: 64, lr: 0.003, patience: 3, testFraction: 0.2, seed: 2,
    });
    const v = encodeHistories(model, [Int32Array.from([1, 2, 3]), Int32Array.from([40, 50, 60]), Int32Array.from([7])]);
    assert.notDeepEqual(v.subarray(0, 32), v.subarray(32, 64));
    assert.notDeepEqual(v.subarray(32, 64), v.subarray(64, 96));
  });

  it('numeric attributes are bucketed; bad labels and bins are clear errors', () => {
    const age = userLabels(data, 'age', [30, 45, 60], 'synth');
    assert.deepEqual(age.classes, ['<30', '30-44', '45-59', '60+']);
    assert.throws(() => userLabels(data, 'height', null, 'synth'), (e: unknown) => e instanceof DataError && /no attribute column "height"; the dataset has: gender, age, life_stage/.test(e.message));
    assert.throws(() => userLabels(data, 'age', [200], 'synth'), /leave class 200\+ of "age" without users/);
    // Without --bins an age in years would be one class per year: refused, with edges to start from.
    assert.throws(() => userLabels(data, 'age', null, 'synth'), /"age" is numeric with \d+ distinct values, .* bucket it with --bins \(e\.g\. --bins \d+,\d+,\d+/);
    assert.throws(() => userLabels(data, 'gender', [1, 2], 'synth'), /not a number, so it cannot be binned/);
    const oneClass = { ...data, attributes: { ...data.attributes, gender: data.attributes.gender!.map(() => 'F') } };
    assert.throws(() => userLabels(oneClass, 'gender', null, 'synth'), /has 1 class \(F\); a classifier needs at least 2/);
  });

  it('CLI: finetune writes a patch directory with only the trained tensors and a task card; bad input leaves nothing', () => {
        const out = join(tempDir(), 'gender-patch');
    const r = spawnSync(process.execPath, [cli, 'finetune', '--model', modelDir, '--data', dataDir, '--task', 'gender',
      '--label', 'gender', '--epochs', '2', '--out', out, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    for (const key of ['task', 'strategy', 'insertion', 'trainedParams', 'totalParams', 'patchBytes']) assert.ok(key in summary, key);
    assert.equal(typeof summary.test.accuracy, 'number');
    assert.equal(typeof summary.test.majorityAccuracy, 'number');
    assert.equal(summary.baselines.majority.accuracy, summary.test.majorityAccuracy, 'both measure the same test users');
    const lr = summary.baselines.logisticRegression;
    assert.ok(lr.accuracy > summary.baselines.majority.accuracy + 0.1, JSON.stringify(summary.baselines));
    assert.ok(lr.l2 > 0 && ['binary', 'tfidf'].includes(lr.weighting) && lr.auc > 0.6, JSON.stringify(lr));
    // The verdict quotes the task's and the regression's validation log-loss, not test numbers.
    assert.deepEqual(summary.verdict, {
      metric: 'log-loss', task: summary.validation.logLoss, baseline: 'logistic regression on items',
      baselineValue: lr.validation.logLoss, ahead: summary.validation.logLoss < lr.validation.logLoss,
    });
    assert.equal(statSync(join(out, 'patch.safetensors')).size, summary.patchBytes);
    const card = JSON.parse(readFileSync(join(out, 'task.json'), 'utf8'));
    assert.equal(card.format, 'graftrec-patch');
    assert.deepEqual(card.verdict, summary.verdict, 'the card keeps the verdict for info and the server');
    const info = spawnSync(process.execPath, [cli, 'info', out], { encoding: 'utf8' });
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, new RegExp(`^validation  on the validation users the task is ${summary.verdict.ahead ? 'ahead' : 'NOT ahead'} of the logistic regression on items \\(log-loss ${summary.verdict.task.toFixed(4)} vs ${summary.verdict.baselineValue.toFixed(4)}\\)`, 'm'));
    assert.match(card.baseFingerprint, /^[0-9a-f]{64}$/);

    const predict = (model: string, patch: string) => spawnSync(process.execPath, [cli, 'predict', '--model', model,
      '--patch', patch, '--user', data.users[0]!, '--data', dataDir, '--json'], { encoding: 'utf8' });
    const p = predict(modelDir, out);
    assert.equal(p.status, 0, p.stderr);
    const prediction = JSON.parse(p.stdout) as { label: string; probabilities: Record<string, number> };
    assert.ok(card.classes.includes(prediction.label));
    assert.ok(Math.abs(Object.values(prediction.probabilities).reduce((a, b) => a + b, 0) - 1) < 1e-5);

    const otherBase = join(tempDir(), 'other-base');
    cpSync(modelDir, otherBase, { recursive: true });
    const weights = readFileSync(join(otherBase, 'model.safetensors'));
    weights[weights.length - 1] ^= 1;
    writeFileSync(join(otherBase, 'model.safetensors'), weights);
    const refused = predict(otherBase, out);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /trained on another base model .* refusing to load it/);
    const corrupt = join(tempDir(), 'corrupt-patch');
    cpSync(out, corrupt, { recursive: true });
    writeFileSync(join(corrupt, 'patch.safetensors'), Buffer.from('not safetensors'));
    assert.match(predict(modelDir, corrupt).stderr, /not a valid safetensors file/);

    const badOut = join(tempDir(), 'never');
    const bad = spawnSync(process.execPath, [cli, 'finetune', '--model', modelDir, '--data', dataDir, '--task', 't',
      '--label', 'shoe_size', '--out', badOut], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /no attribute column "shoe_size"/);
    assert.equal(existsSync(badOut), false);
  });

  it('the experiment runner covers every strategy × insertion × seed and tabulates mean ± std', async () => {
    const result = await runTransferExperiment({
      ...TUNING_DEFAULTS, spec: { type: 'classify', label: 'gender', bins: null }, task: 'gender', baseItems: data.items,
      baseConfig: (await loadModelDir(modelDir)).config.model,
      dataset: data, datasetName: 'synth', epochs: 1, batch: 128, lr: null, patience: 1,
      testFraction: 0.2, strategies: ['peterrec', 'fine-cls'], insertions: ['serial-each-conv', 'residual-mixed'],
      seeds: [1, 2], loadBase: async () => (await loadModelDir(modelDir)).model,
    });
    assert.deepEqual(result.runs.map((r) => `${r.strategy}/${r.insertion}/${r.seed}`), [
      'peterrec/serial-each-conv/1', 'peterrec/serial-each-conv/2', 'peterrec/residual-mixed/1',
      'peterrec/residual-mixed/2', 'fine-cls/null/1', 'fine-cls/null/2',
    ]);
    // Baselines once per seed (not per strategy), on the split that seed draws: the same test users as the runs.
    assert.deepEqual(result.baselines.map((b) => b.seed), [1, 2]);
    for (const b of result.baselines) {
      assert.ok('majority' in b);
      const run = result.runs.find((r) => r.seed === b.seed)!;
      assert.equal(b.majority.accuracy, (run.test as { majorityAccuracy: number }).majorityAccuracy);
      assert.ok(b.logisticRegression.accuracy > b.majority.accuracy, JSON.stringify(b));
    }
    const table = experimentTable(result, data, 'gender', { type: 'classify', label: 'gender', bins: null });
    assert.match(table, /\| peterrec \| residual-mixed \| 0\.\d{4} ± 0\.\d{4} \|/);
    assert.match(table, /\| fine-cls \| – \|/);
    assert.match(table, /\| baseline: majority class \| – \| 0\.\d{4} ± 0\.\d{4} \| 0\.\d{4} ± 0\.\d{4} \| 0\.5000 ± 0\.0000 \| – \|/);
    assert.match(table, /\| baseline: logistic regression on items \| – \| 0\.\d{4} ± 0\.\d{4} \|/);
    // The validation column: the score settings are chosen by (runs and the regression; majority has none).
    assert.match(table, /\| valid\. log-loss \|/);
    assert.match(table, /\| baseline: logistic regression on items \| – \|(?: [^|]+ \|){3} \d\.\d{4} ± \d\.\d{4} \|/);
    for (const r of result.runs) assert.ok(r.validation.logLoss! > 0 && r.validation.accuracy! >= 0, JSON.stringify(r.validation));
    assert.match(table, /mean ± std over seeds 1, 2\./);

    // One seed: the values themselves, not "± 0.0000", and the header names the seed.
    const seed2 = { ...result, runs: result.runs.filter((r) => r.seed === 2), baselines: result.baselines.filter((b) => b.seed === 2) };
    const one = experimentTable(seed2, data, 'gender', { type: 'classify', label: 'gender', bins: null });
    assert.match(one, /on \d+ users; seed 2\./);
    assert.doesNotMatch(one, /±/);
    const accuracy2 = seed2.runs.find((r) => r.strategy === 'fine-cls')!.test as { accuracy: number };
    assert.match(one, new RegExp(`\\| fine-cls \\| – \\| ${accuracy2.accuracy.toFixed(4)} \\|`));
  });
});
