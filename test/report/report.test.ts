import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { saveDataset } from '../../src/data/dataset.js';
import { ExperimentRun, SeedBaselines } from '../../src/transfer/experiment.js';
import { TaskSpec } from '../../src/transfer/tasks.js';
import { CHROMIUM, CHROMIUM_ARGS, needsChromium } from '../helpers/browser.js';
import { datasetFromSequences, tempDir } from '../helpers/datasets.js';
import { CLI as cli, cliSyntheticDataset, runCli as run } from '../helpers/cli.js';


/** The same, without blocking: independent runs overlap. */
function runAsync(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A task name that would end the page's data block if the JSON in it were not escaped. */
const HOSTILE_TASK = 'gender</script><script>window.injected = true</script>';

let dir: string;
let model: string;
let ds: string;
let experiment: string;

function runOf(strategy: ExperimentRun['strategy'], insertion: ExperimentRun['insertion'], seed: number, accuracy: number): ExperimentRun {
  return {
    strategy, insertion, seed, trainedParams: 1000, totalParams: 20000, patchBytes: 4000, epochs: 3, bestEpoch: 3, trainSeconds: 1.5,
    validation: { accuracy: accuracy + 0.05, logLoss: 0.6 }, headline: { name: 'accuracy', value: accuracy },
    test: { users: 40, trainUsers: 120, accuracy, macroF1: accuracy - 0.1, auc: accuracy + 0.1, majorityAccuracy: 0.5 },
  };
}

function baselinesOf(seed: number, accuracy: number): SeedBaselines {
  return {
    seed, majority: { accuracy: 0.5, macroF1: 0.33, auc: 0.5 },
    logisticRegression: { accuracy, macroF1: accuracy - 0.05, auc: accuracy + 0.05, l2: 0.01, weighting: 'tfidf', validation: { accuracy, logLoss: 0.55 } },
  } as SeedBaselines;
}

before(() => {
  dir = tempDir();
  ds = cliSyntheticDataset(dir, '--users', '150', '--items', '80', '--domains', '1', '--seed', '2');
  model = join(dir, 'model');
  const p = run('pretrain', '--data', ds, '--out', model, '--objective', 'causal+contrastive', '--dim', '16', '--blocks', '1', '--max-len', '12', '--epochs', '3', '--quiet');
  assert.equal(p.status, 0, p.stderr);
  const spec: TaskSpec = { type: 'classify', label: 'gender', bins: null };
  experiment = join(dir, 'exp');
  mkdirSync(experiment);
  writeFileSync(join(experiment, 'results.json'), JSON.stringify({
    task: HOSTILE_TASK, spec, model, data: ds,
    runs: [runOf('peterrec', 'serial-each-conv', 1, 0.7), runOf('peterrec', 'serial-each-conv', 2, 0.74), runOf('fine-all', null, 1, 0.72), runOf('fine-all', null, 2, 0.68)],
    baselines: [baselinesOf(1, 0.66), baselinesOf(2, 0.7)],
  }));
});

/** Distinct colours of a PNG, counted in a blank page (no image decoder needed in Node). */
async function distinctColours(page: import('playwright-core').Page, png: Buffer): Promise<number> {
  return page.evaluate(async (base64) => {
    const image = new Image();
    image.src = `data:image/png;base64,${base64}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d')!;
    context.drawImage(image, 0, 0);
    const pixels = new Uint32Array(context.getImageData(0, 0, image.width, image.height).data.buffer);
    return new Set(pixels).size;
  }, png.toString('base64'));
}

describe('graftrec report', () => {
  it('opens in headless Chromium with every chart drawn, no errors and no network', { skip: needsChromium, timeout: 60_000 }, async () => {
    assert.ok(CHROMIUM, 'Chromium is missing: CI needs it for the report test (apt-get install chromium)');
    const out = join(dir, 'report.html');
    const r = run('report', '--model', model, '--experiment', experiment, '--out', out, '--json');
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { charts: number; notes: string[] };
    // Loss, validation, experiment bars, sequence lengths, item popularity (the dataset found through config.json).
    assert.equal(summary.charts, 5);
    assert.deepEqual(summary.notes, []);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      const requests: string[] = [];
      await page.route('**/*', (route) => {
        requests.push(route.request().url());
        return route.request().url().startsWith('file:') ? route.continue() : route.abort();
      });
      await page.goto(pathToFileURL(out).href);
      await page.waitForSelector('body[data-charts-drawn]', { timeout: 30_000 });
      assert.deepEqual(problems, []);
      assert.deepEqual(requests, [pathToFileURL(out).href], 'the page loads nothing but itself');

      const state = await page.evaluate(() => {
        const views = (window as unknown as { reportViews: { data(name: string): unknown[]; width(): number }[] }).reportViews;
        return {
          expected: Number(document.body.dataset.chartCount),
          drawn: Number(document.body.dataset.chartsDrawn),
          views: views.map((v) => ({ width: v.width(), rows: v.data('source_0').length })),
          charts: [...document.querySelectorAll('.chart')].map((c) => {
            const graphic = c.querySelector('svg, canvas');
            const box = graphic?.getBoundingClientRect();
            return { id: c.id, width: box?.width ?? 0, height: box?.height ?? 0, marks: c.querySelectorAll('svg .mark-line, svg .mark-rect, svg .mark-symbol').length };
          }),
          injected: (window as unknown as { injected?: boolean }).injected,
          chartTitles: [...document.querySelectorAll('.chart svg .role-title-text')].map((t) => t.textContent),
          headings: [...document.querySelectorAll('h2')].map((h) => h.textContent),
        };
      });
      assert.equal(state.expected, 5);
      assert.equal(state.drawn, 5);
      assert.equal(state.views.length, 5);
      for (const v of state.views) assert.ok(v.width > 0 && v.rows > 0, JSON.stringify(v));
      assert.equal(state.charts.length, 5);
      for (const c of state.charts) assert.ok(c.width > 50 && c.height > 50 && c.marks > 0, JSON.stringify(c));
      assert.equal(state.injected, undefined, 'data in the page cannot run as a script');
      assert.ok(state.chartTitles.includes(`${HOSTILE_TASK}: test scores of the baselines and strategies`), JSON.stringify(state.chartTitles));
      assert.deepEqual(state.headings, ['Pretraining', `Transfer experiment: ${HOSTILE_TASK}`, 'Dataset']);

      const screenshot = await page.screenshot({ fullPage: true });
      const charts = await Promise.all((await page.$$('.chart')).map((c) => c.screenshot()));
      const blank = await browser.newPage();
      assert.ok(await distinctColours(blank, screenshot) > 16, 'the page is not blank');
      for (const [i, png] of charts.entries()) assert.ok(await distinctColours(blank, png) > 4, `chart ${i + 1} is not blank`);
    } finally {
      await browser.close();
    }
  });

  it('bad input: one line, exit code 1, nothing written', async () => {
    const out = join(dir, 'bad', 'report.html');
    mkdirSync(join(dir, 'bad'));
    mkdirSync(join(dir, 'empty'));
    writeFileSync(join(dir, 'not-json.json'), '{"runs": [');
    writeFileSync(join(dir, 'wrong.json'), JSON.stringify({ runs: 3 }));
    writeFileSync(join(dir, 'shares.json'), JSON.stringify({ task: 't', byLabelFraction: [{ labelFraction: 0.5, runs: [], baselines: [] }] }));
    const other = join(dir, 'other');
    await saveDataset(other, datasetFromSequences([[1, 2, 3], [2, 3, 1]], 3));
    const cases: [string[], RegExp][] = [
      [['--model', join(dir, 'nope')], /no such model directory/],
      [['--model', join(dir, 'empty')], /not a graftrec model \(no config\.json\)/],
      [['--model', model, '--experiment', join(dir, 'nope')], /no such experiment file or directory/],
      [['--model', model, '--experiment', join(dir, 'empty')], /no results\.json in it/],
      [['--model', model, '--experiment', join(dir, 'not-json.json')], /not-json\.json: not valid JSON/],
      [['--model', model, '--experiment', join(dir, 'wrong.json')], /wrong\.json: not a transfer experiment's results \(task: /],
      [['--model', model, '--experiment', join(dir, 'shares.json')], /shares\.json: holds one grid per share of labelled users .*--label-fraction F/],
      [['--model', model, '--data', other], /its item vocabulary \(\d+ items\) does not match the model/],
      [['--model', model, '--data', join(dir, 'nope')], /not a graftrec dataset/],
    ];
    const results = await Promise.all(cases.map(([args]) => runAsync('report', ...args, '--out', out)));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^graftrec: \w+Error: [^\n]+\n$/, `one line: ${r.stderr}`);
      assert.deepEqual(readdirSync(join(dir, 'bad')), [], `${args.join(' ')} wrote nothing`);
    }
    const existing = join(dir, 'bad', 'kept.html');
    writeFileSync(existing, 'keep me');
    const [refused, directory] = await Promise.all([
      runAsync('report', '--model', model, '--out', existing),
      runAsync('report', '--model', model, '--out', join(dir, 'bad'), '--force'),
    ]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /kept\.html: already exists; pass --force to replace it\n$/);
    assert.equal(readFileSync(existing, 'utf8'), 'keep me');
    assert.equal(directory.status, 1);
    assert.match(directory.stderr, /is a directory/);
    assert.deepEqual(readdirSync(join(dir, 'bad')), ['kept.html']);
  });

  it('--force replaces a report; without its dataset the page says why there are no statistics', () => {
    const moved = join(dir, 'moved-model');
    cpSync(model, moved, { recursive: true });
    const configPath = join(moved, 'config.json');
    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), dataset: join(dir, 'gone') }));
    const out = join(dir, 'force', 'report.html');
    mkdirSync(join(dir, 'force'));
    writeFileSync(out, 'old');
    const r = run('report', '--model', moved, '--out', out, '--force', '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { charts: number }).charts, 2);
    assert.match(r.stderr, /^note: The dataset the model was trained on \([^)]*gone, as recorded in config\.json\) is not there now; pass --data DIR/);
    const html = readFileSync(out, 'utf8');
    assert.match(html, /<h2>Not shown<\/h2>/);
    assert.doesNotMatch(html, /<h2>Dataset<\/h2>/);
    assert.deepEqual(readdirSync(join(dir, 'force')), ['report.html'], 'no temporary file left');
    // --data brings the statistics back.
    const withData = run('report', '--model', moved, '--data', ds, '--out', out, '--force', '--json');
    assert.equal(withData.status, 0, withData.stderr);
    assert.equal((JSON.parse(withData.stdout) as { charts: number }).charts, 4);
  });
});
