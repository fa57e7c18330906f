import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { cliSyntheticDataset, runCli as run } from '../helpers/cli.js';
import { tempDir } from '../helpers/datasets.js';


let dir: string;
let ds: string;
let model: string;

before(() => {
  dir = tempDir();
  ds = cliSyntheticDataset(dir, '--users', '200', '--items', '60', '--domains', '1', '--mean-length', '8');
  model = join(dir, 'model');
  const p = run('pretrain', '--data', ds, '--out', model, '--dim', '8', '--blocks', '1', '--max-len', '8', '--epochs', '1', '--seed', '7',
    '--threads', '1', '--quiet');
  assert.equal(p.status, 0, p.stderr);
});

interface Run { strategy: string; seed: number; test: { accuracy: number; users: number; trainUsers: number } }
interface Baselines { seed: number; majority: { accuracy: number }; logisticRegression: { accuracy: number } }

describe('experiment transfer --label-fractions', () => {
  const grid = (out: string, ...extra: string[]) => run('experiment', 'transfer', '--model', model, '--data', ds, '--task', 'gender',
    '--label', 'gender', '--strategies', 'fine-cls', '--seeds', '1,2', '--epochs', '1', '--threads', '1', '--out', out, ...extra);

  it('runs the grid at each share of labelled users on the same test users, with a column per share', () => {
    const out = join(dir, 'fractions');
    const r = grid(out, '--label-fractions', '0.25,1');
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      byLabelFraction: { labelFraction: number; runs: Run[]; baselines: Baselines[] }[];
    };
    assert.deepEqual(json.byLabelFraction.map((x) => x.labelFraction), [0.25, 1]);
    const few = json.byLabelFraction[0]!;
    const all = json.byLabelFraction[1]!;
    for (const seed of [1, 2]) {
      const a = few.runs.find((x) => x.seed === seed)!.test;
      const b = all.runs.find((x) => x.seed === seed)!.test;
      assert.equal(a.users, b.users, 'the same test users');
      assert.equal(a.trainUsers, Math.round(b.trainUsers * 0.25), 'a quarter of the training users');
    }
    // The summary table: one column per share, each cell the mean accuracy over the seeds of that share's runs.
    const table = readFileSync(join(out, 'results.md'), 'utf8');
    assert.equal(table, r.stdout);
    assert.match(table, /\| test accuracy \(valid\. log-loss\) \| f = 0\.25 \| f = 1 \|/);
    const mean = (xs: number[]) => (xs.reduce((s, x) => s + x, 0) / xs.length).toFixed(4);
    const cells = (name: string) => table.split('\n').find((l) => l.startsWith(`| ${name} | `))!.split(' | ').slice(1).map((c) => c.split(' ')[0]);
    assert.deepEqual(cells('fine-cls'), [mean(few.runs.map((x) => x.test.accuracy)), mean(all.runs.map((x) => x.test.accuracy))]);
    assert.deepEqual(cells('baseline: logistic regression on items'),
      [mean(few.baselines.map((x) => x.logisticRegression.accuracy)), mean(all.baselines.map((x) => x.logisticRegression.accuracy))]);
    // Then each share's full table.
    assert.match(table, /\nf = 0\.25:\n\nTask `gender`/);
    assert.match(table, /\nf = 1:\n\nTask `gender`/);
  });

  it('refuses a share outside (0, 1], a repeated one, or both flags, and writes nothing', () => {
    for (const [args, message] of [
      [['--label-fractions', '0,1'], /label-fractions must be a comma-separated list of distinct fractions in \(0, 1\]/],
      [['--label-fractions', '0.5,0.5'], /distinct fractions/],
      [['--label-fractions', '0.5,1.5'], /distinct fractions/],
      [['--label-fractions', '0.5,1', '--label-fraction', '0.5'], /give --label-fraction or --label-fractions, not both/],
    ] as [string[], RegExp][]) {
      const out = join(dir, 'refused');
      const r = grid(out, ...args);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, message);
      assert.ok(!existsSync(out));
    }
  });
});

describe('experiment transfer --folds', () => {
  it('runs each seed once per fold on the same test users, and a seed\'s numbers are the mean over its folds', () => {
    const out = join(dir, 'folds');
    const r = run('experiment', 'transfer', '--model', model, '--data', ds, '--task', 'gender', '--label', 'gender', '--strategies', 'fine-cls',
      '--seeds', '1,2', '--folds', '3', '--epochs', '1', '--threads', '1', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    interface FoldRun { seed: number; fold: number; test: { accuracy: number; users: number; trainUsers: number }; validation: { users: number } }
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: FoldRun[]; baselines: (Baselines & { fold: number })[] };
    assert.deepEqual(json.runs.map((x) => [x.seed, x.fold]), [[1, 0], [1, 1], [1, 2], [2, 0], [2, 1], [2, 2]]);
    assert.deepEqual(json.baselines.map((x) => [x.seed, x.fold]), [[1, 0], [1, 1], [1, 2], [2, 0], [2, 1], [2, 2]]);
    for (const seed of [1, 2]) {
      const folds = json.runs.filter((x) => x.seed === seed);
      const nonTest = folds[0]!.test.trainUsers + folds[0]!.validation.users;
      assert.ok(folds.every((x) => x.test.users === folds[0]!.test.users && x.test.trainUsers + x.validation.users === nonTest));
      // Every non-test user validates once over the three folds.
      assert.equal(folds.reduce((n, x) => n + x.validation.users, 0), nonTest);
    }
    const perSeed = [1, 2].map((seed) => {
      const folds = json.runs.filter((x) => x.seed === seed);
      return folds.reduce((s, x) => s + x.test.accuracy, 0) / folds.length;
    });
    const mean = ((perSeed[0]! + perSeed[1]!) / 2).toFixed(4);
    const std = (Math.abs(perSeed[0]! - perSeed[1]!) / 2).toFixed(4); // the population std of two values
    assert.match(r.stdout, new RegExp(`\\| fine-cls \\| – \\| ${mean} ± ${std} \\|`));
    assert.match(r.stdout, /mean ± std over seeds 1, 2 \(each seed: the mean over 3 folds of its non-test users, each validating in turn\)/);
    const bad = run('experiment', 'transfer', '--model', model, '--data', ds, '--task', 'gender', '--label', 'gender', '--folds', '0', '--out', join(dir, 'no'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /folds must be an integer in \[1, 20\]/);
    assert.ok(!existsSync(join(dir, 'no')));
  });
});
