import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../../src/config/schema.js';
import { ingest } from '../../src/data/ingest.js';
import { writeSynthetic } from '../../src/data/synth.js';
import { AddTaskOptions, FREE_STARTS, addContinualTask, initContinual, startFreeEntries } from '../../src/continual/learn.js';
import { continualTable, runContinualExperiment } from '../../src/continual/experiment.js';
import { parseTaskList } from '../../src/cli/continual-experiment.js';
import { EntryPins, largestFree, packTaskMask, prunableParameters, unpackTaskMask } from '../../src/continual/owners.js';
import { ContinualModel, continualTasks, loadContinual, weightsForTask } from '../../src/continual/store.js';
import { loadDataset } from '../../src/data/dataset.js';
import { leaveOneOutSplit } from '../../src/data/split.js';
import { encodeHistories, forEachScoreRow } from '../../src/models/encoder.js';
import { createEncoder, itemSideOf } from '../../src/models/encoders.js';
import { createServer } from '../../src/serve/start.js';
import { Parameter, Rng } from '../../src/tensor/index.js';
import { loadModelDir } from '../../src/train/checkpoint.js';
import { pretrain } from '../../src/train/pretrain.js';
import { createProgress } from '../../src/train/progress.js';
import { loadPatchDir } from '../../src/transfer/patchfile.js';
import { predictTask } from '../../src/transfer/predict.js';
import { TUNING_DEFAULTS } from '../../src/transfer/task.js';
import { runTaskBaselines } from '../../src/transfer/tasks.js';
import { tempDir } from '../helpers/datasets.js';
import { CLI as cli, runCli as run } from '../helpers/cli.js';


let root: string;
let dataDir: string;
let modelDir: string;
let otherModelDir: string;

/** Every file of a directory tree with its bytes (to compare a directory before and after). */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.set(join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name)));
  }
  return out;
}

function addOptions(continual: string, task: string, over: Partial<AddTaskOptions> = {}): AddTaskOptions {
  return {
    continual, data: dataDir, task, spec: { type: 'classify', label: 'gender', bins: null }, keep: 0.3, retrainEpochs: 1, seed: 1,
    tuning: { ...TUNING_DEFAULTS, epochs: 3, batch: 64, lr: 0.003, patience: 2, testFraction: 0.2 }, progress: createProgress(process.stderr, true), ...over,
  };
}

/** Task 1's next-item scores and every later task's class probabilities, for a few users. */
async function answers(m: ContinualModel, histories: Int32Array[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  const first = m.shared.model.copySharing(weightsForTask(m, 1));
  const scores: number[] = [];
  forEachScoreRow(first, encodeHistories(first, histories), (_, row) => scores.push(...row));
  out.set('next-item', Float32Array.from(scores));
  for (const t of await continualTasks(m)) {
    out.set(t.card.task, Float32Array.from(predictTask(t, histories, { k: 5 }).flatMap((a) => ('probabilities' in a ? Object.values(a.probabilities) : []))));
  }
  return out;
}

before(async () => {
  root = tempDir();
  await writeSynthetic(join(root, 'raw'), { users: 400, items: 80, domains: 1, seed: 5 });
  await ingest({ input: join(root, 'raw', 'interactions.csv'), attributes: join(root, 'raw', 'users.csv'), out: join(root, 'ds') });
  dataDir = join(root, 'ds');
  modelDir = join(root, 'model');
  const shape = { ...MODEL_DEFAULTS, dim: 16, blocks: 2, maxLen: 20 };
  await pretrain({ data: dataDir, out: modelDir, model: shape, train: { ...TRAIN_DEFAULTS, epochs: 2, batch: 64, lr: 0.003 }, progress: createProgress(process.stderr, true) });
  otherModelDir = join(root, 'other');
  await pretrain({ data: dataDir, out: otherModelDir, model: shape, train: { ...TRAIN_DEFAULTS, epochs: 1, batch: 64, lr: 0.003, seed: 2 }, progress: createProgress(process.stderr, true) });
});

describe('ownership of weight entries', () => {
  it('keeps exactly the requested share of the free entries, those of largest magnitude, ties to the lower index', () => {
    const values = Float32Array.from([0.5, -3, 2, 2, -2, 0.1, 7, 0, 2, -0.4]);
    const owners = Uint8Array.from([0, 0, 0, 0, 0, 0, 1, 0, 0, 0]); // entry 6 (the largest) is taken already
    const chosen = largestFree(values, owners, 0.45); // round(0.45 × 9 free) = 4
    // |-3| first, then four entries of magnitude 2 (indices 2, 3, 4, 8) compete for three places: the lower indices win.
    assert.deepEqual([...chosen], [0, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
    assert.equal(largestFree(values, owners, 0.5).reduce((a, b) => a + b, 0), Math.round(0.5 * 9));
  });

  it('bit-packed masks round-trip, and a mask that claims another task\'s entry or has the wrong length is refused', () => {
    const owners = Uint8Array.from({ length: 21 }, (_, i) => (i % 3 === 0 ? 2 : i % 5 === 0 ? 1 : 0));
    const bits = packTaskMask(owners, 2);
    assert.equal(bits.length, 3);
    const back = Uint8Array.from(owners, (o) => (o === 1 ? 1 : 0));
    assert.ok(unpackTaskMask(bits, back, 2));
    assert.deepEqual(back, owners);
    assert.ok(!unpackTaskMask(bits, Uint8Array.from(owners), 3), 'overlaps task 2');
    assert.ok(!unpackTaskMask(bits.subarray(0, 2), new Uint8Array(21), 2), 'too short');
    assert.ok(!unpackTaskMask(Uint8Array.from([0, 0, 0x80]), new Uint8Array(21), 2), 'a bit past the end');
  });

  it('pins put every entry that may not move back after a step', () => {
    const p = new Parameter('w', Float32Array.from([1, 2, 3, 4]), [2, 2]);
    const pins = new EntryPins();
    pins.add(p, Uint8Array.from([0, 1, 0, 1]));
    p.data.set([9, 9, 9, 9]);
    pins.restore();
    assert.deepEqual([...p.data], [1, 9, 3, 9]);
  });
});

describe('continual learning (Conure)', () => {
  let dir: string;
  let histories: Int32Array[];

  before(async () => {
    dir = join(root, 'continual');
    const ds = await loadDataset(dataDir);
    histories = leaveOneOutSplit(ds).test.histories.slice(0, 12);
  });

  it('init prunes each block weight matrix to the kept share and keeps the next-item task close to the unpruned base', async () => {
    const s = await initContinual({
      model: modelDir, data: dataDir, out: dir, force: false, keep: 0.3, retrainEpochs: 1, task: 'next-item', seed: 1, progress: createProgress(process.stderr, true),
    });
    const m = await loadContinual(dir);
    for (const p of prunableParameters(m.shared.model)) {
      const owners = m.owners.get(p.name)!;
      const owned = owners.reduce((n, o) => n + o, 0);
      assert.equal(owned, Math.round(0.3 * p.size), p.name);
      for (let i = 0; i < p.size; i++) if (owners[i] === 0) assert.equal(p.data[i], 0, `${p.name}[${i}] is free but not zero`);
    }
    assert.equal(s.owned + s.free, prunableParameters(m.shared.model).reduce((n, p) => n + p.size, 0));
    assert.ok(s.test.retrained['HR@10']! > 0, JSON.stringify(s.test));
    // The shared weights are not a base model: evaluating the directory as one is refused.
    const asBase = run('evaluate', '--model', dir, '--data', dataDir);
    assert.notEqual(asBase.status, 0);
    assert.match(asBase.stderr, /model\.safetensors/);
  });

  it('a new task\'s free entries start at a fresh network\'s values or at zero; the owned ones stay and are pinned', async () => {
    for (const start of FREE_STARTS) {
      const m = await loadContinual(dir);
      const before = new Map(prunableParameters(m.shared.model).map((p) => [p.name, Float32Array.from(p.data)]));
      const pins = startFreeEntries(m.shared, m.owners, start, 7);
      const fresh = createEncoder(m.shared.config.model, new Rng(7), itemSideOf(m.shared.model)).parameterMap();
      let changed = 0;
      for (const p of prunableParameters(m.shared.model)) {
        const owners = m.owners.get(p.name)!;
        const init = fresh.get(p.name)!.data;
        for (let i = 0; i < p.size; i++) {
          if (owners[i] !== 0) assert.equal(p.data[i], before.get(p.name)![i], `${p.name}[${i}] is owned and moved`);
          else assert.equal(p.data[i], start === 'zero' ? 0 : init[i], `${start}: ${p.name}[${i}]`);
          if (p.data[i] !== before.get(p.name)![i]) changed++;
        }
        p.data.fill(5);
      }
      assert.equal(changed > 0, start === 'fresh', `${start}: ${changed} entries changed`);
      pins.restore();
      for (const p of prunableParameters(m.shared.model)) {
        const owners = m.owners.get(p.name)!;
        for (let i = 0; i < p.size; i++) if (owners[i] !== 0) assert.equal(p.data[i], before.get(p.name)![i], `${p.name}[${i}] not put back`);
      }
    }
  });

  it('later tasks never change an earlier task\'s answers (bit-identical), nor the entries it owns', async () => {
    await addContinualTask(addOptions(dir, 'gender'));
    const afterGender = await loadContinual(dir);
    const before = await answers(afterGender, histories);
    const frozen = new Map(prunableParameters(afterGender.shared.model).map((p) => [p.name, Float32Array.from(p.data)]));

    const age = await addContinualTask(addOptions(dir, 'age', { spec: { type: 'classify', label: 'age', bins: [25, 35, 45] } }));
    assert.equal(age.index, 3);
    assert.ok(age.owned > 0 && age.taskBytes > 0);
    const m = await loadContinual(dir);
    const after = await answers(m, histories);
    for (const [task, values] of before) assert.deepEqual(after.get(task), values, `${task} changed after a later task`);
    assert.ok(after.has('age'));
    for (const p of prunableParameters(m.shared.model)) {
      const owners = m.owners.get(p.name)!;
      const old = frozen.get(p.name)!;
      for (let i = 0; i < p.size; i++) if (owners[i] !== 0 && owners[i]! < 3) assert.equal(p.data[i], old[i], `${p.name}[${i}] moved`);
    }
    // The gender task computes with tasks 1–2's entries only: with age's entries it would answer otherwise.
    const gender = (await continualTasks(m)).find((t) => t.card.task === 'gender')!;
    const name = prunableParameters(m.shared.model)[0]!.name;
    const withAge = gender.model.copySharing(new Map([[name, weightsForTask(m, 3).get(name)!]]));
    const probabilities = (model: typeof withAge) => predictTask({ ...gender, model }, histories, { k: 1 }).map((a) => JSON.stringify(a));
    assert.notDeepEqual(probabilities(withAge), probabilities(gender.model));
  });

  it('refuses a task name already used, a directory that is not a continual model, and a keep outside (0, 1)', async () => {
    await assert.rejects(addContinualTask(addOptions(dir, 'gender')), /already has a task named "gender"/);
    await assert.rejects(addContinualTask(addOptions(modelDir, 'x')), /not a continual model/);
    await assert.rejects(addContinualTask(addOptions(dir, 'x', { keep: 1 })), /--keep must be a fraction in \(0, 1\)/);
    const r = run('continual', 'init', '--model', modelDir, '--data', dataDir, '--out', join(root, 'never'), '--keep', '0');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /keep must be a number in \(0, 1\)/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(!existsSync(join(root, 'never')));
  });

  it('a continual task does not load as a plain patch, and is not served beside a base of another fingerprint', async () => {
    const base = await loadModelDir(modelDir);
    const m = await loadContinual(dir);
    await assert.rejects(loadPatchDir(join(dir, 'tasks', 'gender'), base, m.manifest.baseFingerprint), /a task of a continual model/);
    await assert.rejects(createServer({
      model: otherModelDir, patches: null, continual: dir, data: null, watch: false, ignoreUnknownItems: false, batchWaitMs: 0, maxBatch: 8,
      bodyLimit: 1 << 20, logger: false, adminToken: null,
    }), /grown from another base/);
  });

  it('the server answers a continual task as predictTask does, beside the base', async () => {
    const s = await createServer({
      model: modelDir, patches: null, continual: dir, data: dataDir, watch: false, ignoreUnknownItems: false, batchWaitMs: 0, maxBatch: 8,
      bodyLimit: 1 << 20, logger: false, adminToken: null,
    });
    try {
      const tasks = (await s.app.inject({ method: 'GET', url: '/v1/tasks' })).json() as { tasks: { task: string; card: { strategy: string } }[] };
      assert.deepEqual(tasks.tasks.map((t) => [t.task, t.card.strategy]), [['gender', 'conure'], ['age', 'conure']]);
      const ds = await loadDataset(dataDir);
      const items = Array.from(histories[0]!, (i) => ds.items[i - 1]!);
      const res = await s.app.inject({ method: 'POST', url: '/v1/predict/age', payload: { items } });
      assert.equal(res.statusCode, 200, res.body);
      const age = (await continualTasks(await loadContinual(dir))).find((t) => t.card.task === 'age')!;
      const expected = predictTask(age, [histories[0]!], { k: 1 })[0]!;
      assert.deepEqual((res.json() as { probabilities: unknown }).probabilities, (expected as { probabilities: unknown }).probabilities);
      const cliAnswer = run('predict', '--model', modelDir, '--continual', dir, '--task', 'age', '--items', items.join(','), '--json');
      assert.equal(cliAnswer.status, 0, cliAnswer.stderr);
      assert.deepEqual(JSON.parse(cliAnswer.stdout).probabilities, (expected as { probabilities: unknown }).probabilities);
      assert.match(run('predict', '--model', modelDir, '--continual', dir, '--task', 'nope', '--items', items.join(',')).stderr, /no task "nope" \(tasks: gender, age\)/);
    } finally {
      await s.close();
    }
  });

  it('a task with no free weights left is a clear error, and an interrupted add leaves the directory as it was', async () => {
    const full = join(root, 'full');
    await initContinual({ model: modelDir, data: dataDir, out: full, force: false, keep: 0.3, retrainEpochs: 0, task: 'next-item', seed: 1, progress: createProgress(process.stderr, true) });
    await addContinualTask(addOptions(full, 'all', { keep: 0.99999, retrainEpochs: 0 }));
    await assert.rejects(addContinualTask(addOptions(full, 'more')), /no free weights remain/);

    const before = snapshot(dir);
    const child = spawn(process.execPath, [cli, 'continual', 'add', '--model', dir, '--data', dataDir, '--task', 'stage',
      '--label', 'life_stage', '--epochs', '2000', '--patience', '2000', '--quiet'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(child.exitCode, null, 'the add ended before it was interrupted');
    child.kill('SIGKILL');
    await exited;
    assert.deepEqual(snapshot(dir), before);
    assert.equal((await loadContinual(dir)).manifest.tasks.length, 3);
  });
});

describe('experiment continual', () => {
  it('parses a task list with bin edges and cross-domain tasks, and refuses a malformed one', () => {
    assert.deepEqual(parseTaskList('gender,age@25/35'), [
      { name: 'gender', label: 'gender', bins: null }, { name: 'age', label: 'age', bins: [25, 35] },
    ]);
    assert.deepEqual(parseTaskList('age@25/35,over35=age@35'), [
      { name: 'age', label: 'age', bins: [25, 35] }, { name: 'over35', label: 'age', bins: [35] },
    ]);
    assert.deepEqual(parseTaskList('gender,recommend:sport/cloth,shoes=recommend:sport/shoes'), [
      { name: 'gender', label: 'gender', bins: null }, { name: 'cloth', sourceDomain: 'sport', targetDomain: 'cloth' },
      { name: 'shoes', sourceDomain: 'sport', targetDomain: 'shoes' },
    ]);
    for (const bad of ['age@25/x', '=age@35', 'a=b=age@35', 'recommend:sport', 'recommend:sport/', 'recommend:/cloth', 'recommend:a/b/c', 'recommend:a/a']) {
      assert.throws(() => parseTaskList(bad), /is not \[NAME=\]LABEL, /, bad);
    }
    assert.throws(() => parseTaskList('gender,gender'), /appears twice/);
    assert.throws(() => parseTaskList('age,age=age@35'), /appears twice/);
    assert.throws(() => parseTaskList('cloth,recommend:sport/cloth'), /appears twice/);
  });

  it('reports every method on every task, with the baselines, and Conure unchanged after the last task', async () => {
    const tasks = [
      { name: 'gender', spec: { type: 'classify' as const, label: 'gender', bins: null }, data: dataDir },
      { name: 'age', spec: { type: 'classify' as const, label: 'age', bins: [25, 35, 45] }, data: dataDir },
    ];
    const o = {
      model: modelDir, data: dataDir, out: join(root, 'experiment'), tasks, strategies: ['fine-cls' as const], seeds: [1], keep: 0.3,
      retrainEpochs: 0, tuning: { ...TUNING_DEFAULTS, epochs: 2, batch: 64, lr: 0.003, patience: 1, testFraction: 0.2 },
      progress: createProgress(process.stderr, true),
    };
    const r = await runContinualExperiment(o);
    for (const method of ['conure', 'fine-cls', 'baseline: majority class', 'baseline: logistic regression on items']) {
      for (const task of tasks) assert.ok(r.runs.some((x) => x.method === method && x.task === task.name), `${method} ${task.name}`);
    }
    for (const x of r.runs.filter((y) => y.method === 'conure')) assert.equal(x.afterLast, x.right, x.task);
    assert.ok(r.bytes.conure! > 0 && r.bytes['fine-cls']! > 0);
    const table = continualTable(r, o);
    assert.match(table, /\| conure \| /);
    assert.match(table, /gender accuracy \(right after \/ after last\)/);
    // Settings are chosen on validation users: Conure and each strategy report their validation log-loss per task.
    for (const method of ['conure', 'fine-cls']) {
      for (const task of tasks) {
        const v = r.runs.find((x) => x.method === method && x.task === task.name)!.validation;
        assert.ok(v?.name === 'log-loss' && Number.isFinite(v.value) && v.value > 0, `${method} ${task.name}: ${JSON.stringify(v)}`);
      }
    }
    assert.match(table, /\| method \| gender valid\. log-loss \| age valid\. log-loss \|\n[^\n]*\n\| conure \| \d/);
  });

  it('cross-validates with --folds: every task once per fold, each fold its own validation users, a seed\'s cell the mean over its folds', async () => {
    const tasks = [{ name: 'gender', spec: { type: 'classify' as const, label: 'gender', bins: null }, data: dataDir }];
    const o = {
      model: modelDir, data: dataDir, out: join(root, 'experiment-folds'), tasks, strategies: ['fine-cls' as const], seeds: [1], folds: 2, keep: 0.3,
      retrainEpochs: 0, tuning: { ...TUNING_DEFAULTS, epochs: 2, batch: 64, lr: 0.003, patience: 1, testFraction: 0.2 },
      progress: createProgress(process.stderr, true),
    };
    const r = await runContinualExperiment(o);
    for (const method of ['conure', 'fine-cls', 'baseline: majority class']) {
      assert.deepEqual(r.runs.filter((x) => x.method === method && x.task === 'gender').map((x) => x.fold), [0, 1], method);
    }
    // One continual model per fold, each grown from the same pruned base.
    assert.ok(existsSync(join(o.out, 'conure-seed-1-fold-0', 'continual.json')) && existsSync(join(o.out, 'conure-seed-1-fold-1', 'continual.json')));
    const conure = r.runs.filter((x) => x.method === 'conure' && x.task === 'gender');
    // The folds validate on different users, so their validation log-losses differ.
    assert.notEqual(conure[0]!.validation!.value, conure[1]!.validation!.value);
    for (const x of conure) assert.equal(x.afterLast, x.right);
    const [right0, right1] = conure.map((x) => x.right);
    const cell = `${((right0! + right1!) / 2).toFixed(4)} / ${((right0! + right1!) / 2).toFixed(4)}`;
    const table = continualTable(r, o);
    assert.ok(table.includes(cell), table);
    assert.match(table, /; seed 1 \(each seed: the mean over 2 folds/);
    // A plain run of the same seed validates on the usual fold, which is neither of the two.
    const usual = await runContinualExperiment({ ...o, folds: 1, out: join(root, 'experiment-folds-usual') });
    const plain = usual.runs.find((x) => x.method === 'conure' && x.task === 'gender')!;
    assert.equal(plain.fold, undefined);
    assert.ok(conure.every((x) => x.validation!.value !== plain.validation!.value));
  });
});

describe('a continual cross-domain task', () => {
  let dir: string;
  before(async () => {
    dir = tempDir();
    await writeSynthetic(join(dir, 'raw'), { users: 300, items: 100, domains: 2, seed: 7 });
    const raw = join(dir, 'raw', 'interactions.csv');
    await ingest({ input: raw, domain: 'A', out: join(dir, 'source') });
    await ingest({ input: raw, out: join(dir, 'both') });
    await pretrain({
      data: join(dir, 'source'), out: join(dir, 'model'), model: { ...MODEL_DEFAULTS, dim: 16, blocks: 2, maxLen: 20 },
      train: { ...TRAIN_DEFAULTS, epochs: 1, batch: 64, lr: 0.003 }, progress: createProgress(process.stderr, true),
    });
  });
  const coldStart = { type: 'recommend' as const, sourceDomain: 'A', targetDomain: 'B', negatives: 0, itemPairs: true, ks: [10] };

  it('learns a recommend task into the network and answers it from the loaded model as it reported', async () => {
    await initContinual({
      model: join(dir, 'model'), data: join(dir, 'source'), out: join(dir, 'c'), force: false, keep: 0.3, retrainEpochs: 0, task: 'next-item',
      seed: 1, progress: createProgress(process.stderr, true),
    });
    const s = await addContinualTask(addOptions(join(dir, 'c'), 'cold', { data: join(dir, 'both'), spec: coldStart }));
    assert.equal(s.type, 'recommend');
    assert.ok(Number((s.test.final as Record<string, unknown>)['NDCG@10']) > 0, JSON.stringify(s.test.final));
    assert.deepEqual(s.headline, { name: 'NDCG@10', value: Number((s.test.final as Record<string, unknown>)['NDCG@10']) });
    assert.equal(s.validationHeadline.name, 'NDCG@10');
    const [task] = await continualTasks(await loadContinual(join(dir, 'c')));
    assert.equal(task!.card.type, 'recommend');
    const answer = predictTask(task!, [Int32Array.from([1, 2, 3])], { k: 5 })[0]!;
    assert.equal((answer as { recommendations: unknown[] }).recommendations.length, 5);
  });

  it('runs in experiment continual: NDCG@10 for every method and the ranking baselines, Conure scored again from the final model', async () => {
    // Two recommend tasks, so the first is scored again after the second has been learned into the network.
    const tasks = [
      { name: 'cold', spec: coldStart, data: join(dir, 'both') },
      { name: 'cold-again', spec: { ...coldStart, itemPairs: false }, data: join(dir, 'both') },
    ];
    const o = {
      model: join(dir, 'model'), data: join(dir, 'source'), out: join(dir, 'experiment'), tasks, strategies: ['peterrec' as const], seeds: [1],
      keep: 0.3, retrainEpochs: 0, tuning: { ...TUNING_DEFAULTS, epochs: 1, batch: 64, lr: 0.003, patience: 1, testFraction: 0.2 },
      progress: createProgress(process.stderr, true),
    };
    const r = await runContinualExperiment(o);
    const of = (method: string, task: string) => r.runs.find((x) => x.method === method && x.task === task);
    for (const method of ['conure', 'peterrec', 'baseline: popularity', 'baseline: item co-occurrence']) {
      for (const t of tasks) {
        const x = of(method, t.name);
        assert.ok(x && x.metric === 'NDCG@10' && x.right > 0 && x.right < 1, `${method} ${t.name}: ${JSON.stringify(x)}`);
      }
    }
    // The co-occurrence baseline is what finetune reports beside the task on the same test users.
    const base = await loadModelDir(join(dir, 'model'));
    const b = runTaskBaselines(coldStart, {
      task: 'cold', dataset: await loadDataset(join(dir, 'both')), datasetName: join(dir, 'both'), baseItems: base.items, baseConfig: base.config.model,
    }, { testFraction: 0.2, labelFraction: 1, seed: 1 });
    assert.equal(of('baseline: item co-occurrence', 'cold')!.right, Number((b as { cooccurrence: Record<string, number> }).cooccurrence['NDCG@10']));
    for (const t of tasks) {
      const x = of('conure', t.name)!;
      assert.equal(x.afterLast, x.right, t.name);
      assert.equal(x.validation?.name, 'NDCG@10');
    }
    const table = continualTable(r, o);
    assert.match(table, /cold NDCG@10 \(right after \/ after last\)/);
    assert.match(table, /\| baseline: item co-occurrence \| – \| 0\.\d{4}/);
    assert.match(table, /cold valid\. NDCG@10/);
  });

  it('takes recommend:SOURCE/TARGET and --folds on the command line, reading --cross-domain-data; a malformed task writes nothing', () => {
    const out = join(dir, 'cli-experiment');
    const args = ['experiment', 'continual', '--model', join(dir, 'model'), '--data', join(dir, 'source'), '--cross-domain-data', join(dir, 'both'),
      '--strategies', 'fine-cls', '--seeds', '1', '--epochs', '1', '--retrain-epochs', '0', '--batch', '64', '--k', '10', '--out', out];
    const bad = run(...args, '--tasks', 'recommend:A');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /tasks: "recommend:A" is not/);
    assert.ok(!existsSync(out));
    const unused = run(...args, '--tasks', 'gender');
    assert.equal(unused.status, 1);
    assert.match(unused.stderr, /--cross-domain-data is the dataset of recommend:SOURCE\/TARGET tasks, and --tasks lists none/);
    assert.ok(!existsSync(out));
    const r = run(...args, '--tasks', 'recommend:A/B', '--folds', '2');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /B NDCG@10 \(right after \/ after last\)/);
    assert.match(r.stdout, /the mean over 2 folds/);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      tasks: { name: string; data: string; spec: { type: string; targetDomain: string; ks: number[] } }[]; runs: { method: string; task: string; metric: string; fold?: number }[];
    };
    assert.deepEqual(results.runs.filter((x) => x.method === 'conure' && x.task === 'B').map((x) => x.fold), [0, 1]);
    assert.deepEqual(results.tasks.map((t) => [t.name, t.data, t.spec.type, t.spec.targetDomain, t.spec.ks]), [['B', join(dir, 'both'), 'recommend', 'B', [10]]]);
    for (const method of ['conure', 'fine-cls', 'baseline: item co-occurrence']) {
      assert.equal(results.runs.find((x) => x.method === method && x.task === 'B')?.metric, 'NDCG@10', method);
    }
  });
});

describe('graftrec info on a continual model', () => {
  it('lists its tasks in order with what each owns', async () => {
    const dir = join(root, 'continual');
    const r = run('info', dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /continual +.* \(nextitnet, 3 tasks\)/);
    assert.match(r.stdout, /task 1 +next-item \(next-item\).*\ntask 2 +gender \(classify\).*\ntask 3 +age \(classify\)/);
    const card = JSON.parse(readFileSync(join(dir, 'tasks', 'gender', 'task.json'), 'utf8')) as { trainedParams: number; totalParams: number };
    assert.ok(card.trainedParams < card.totalParams / 2, `${card.trainedParams} of ${card.totalParams}`);
  });
});
