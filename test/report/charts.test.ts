import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ModelError } from '../../src/errors.js';
import { experimentChart, itemPopularityCurve, lossChart, sequenceLengthBins, validationChart } from '../../src/report/charts.js';
import { readPretrainingMetrics } from '../../src/report/inputs.js';
import { jsonForScript, scriptSource } from '../../src/report/page.js';
import { EpochRecord } from '../../src/train/pretrain.js';
import { ExperimentResult, experimentRows } from '../../src/transfer/experiment.js';
import { datasetFromSequences, tempDir } from '../helpers/datasets.js';

type Values = Record<string, unknown>[];
const valuesOf = (spec: Record<string, unknown>) => (spec.data as { values: Values }).values;

const epoch = (n: number, terms: Record<string, number>, total: number, ndcg: number): EpochRecord => ({
  epoch: n, step: n * 10, trainLoss: total, trainLosses: terms, valid: { 'HR@10': 2 * ndcg, 'NDCG@10': ndcg },
  epochSeconds: 1, itemsPerSec: 1, sequencesPerSec: 1,
});

describe('report: escaping for a <script> element', () => {
  it('data holding </script>, <!-- and line separators stays inside its element and parses back unchanged', () => {
    const value = { task: '</script><script>alert(1)</script>', note: '<!-- a -->', amp: 'a & b', sep: 'x\u2028y\u2029z' };
    const text = jsonForScript(value);
    assert.doesNotMatch(text, /[<>&\u2028\u2029]/);
    assert.deepEqual(JSON.parse(text), value);
  });

  it('inlined library code cannot close its element early', () => {
    const code = 'var s = "</script>"; var t = "</SCRIPT >"; var c = "<!--";';
    const safe = scriptSource(code);
    assert.doesNotMatch(safe, /<\/script/i);
    assert.doesNotMatch(safe, /<!--/);
    // Still the same JavaScript: the strings read the same.
    const read = (src: string) => new Function(`${src}; return [s, t, c];`)() as string[];
    assert.deepEqual(read(safe), read(code));
  });
});

describe('report: chart data', () => {
  it('the loss chart has each term and, with more than one, their weighted sum', () => {
    const records = [epoch(1, { 'next-item': 5, contrastive: 2 }, 5.2, 0.1), epoch(2, { 'next-item': 4, contrastive: 1.5 }, 4.15, 0.2)];
    const values = valuesOf(lossChart(records));
    assert.deepEqual(values.filter((v) => v.epoch === 2).map((v) => [v.series, v.loss]),
      [['next-item', 4], ['contrastive', 1.5], ['total (weighted sum)', 4.15]]);
    const single = valuesOf(lossChart([epoch(1, { 'next-item': 5 }, 5, 0.1)]));
    assert.deepEqual(single.map((v) => v.series), ['next-item']);
    const valid = valuesOf(validationChart(records));
    assert.deepEqual(valid.filter((v) => v.series === 'NDCG@10').map((v) => v.value), [0.1, 0.2]);
  });

  it('experiment bars: mean ± std over seeds per row and metric, the baselines first and grey', () => {
    const run = (strategy: 'peterrec' | 'fine-cls', seed: number, accuracy: number) => ({
      strategy, insertion: strategy === 'peterrec' ? 'serial-each-conv' as const : null, seed, trainedParams: 10, totalParams: 100,
      patchBytes: 40, epochs: 2, bestEpoch: 2, trainSeconds: 1, validation: { logLoss: 0.5 },
      headline: { name: 'accuracy', value: accuracy }, test: { users: 10, accuracy, macroF1: accuracy / 2, auc: 0.9 },
    });
    const baseline = (seed: number, accuracy: number) => ({
      seed, majority: { accuracy, macroF1: 0.3, auc: 0.5 },
      logisticRegression: { accuracy: 0.7, macroF1: 0.6, auc: 0.8, l2: 1, weighting: 'tfidf', validation: { accuracy: 0.7, logLoss: 0.6 } },
    });
    const result = {
      runs: [run('peterrec', 1, 0.5), run('peterrec', 2, 0.7), run('fine-cls', 1, 0.6), run('fine-cls', 2, 0.6)],
      baselines: [baseline(1, 0.4), baseline(2, 0.6)],
    } as unknown as ExperimentResult;
    const table = experimentRows(result, { type: 'classify', label: 'gender', bins: null });
    assert.deepEqual(table.columns, ['accuracy', 'macro-F1', 'AUC']);
    const spec = experimentChart(table);
    const values = valuesOf(spec);
    const bar = (row: string, metric: string) => values.find((v) => v.row === row && v.metric === metric)!;
    const close = (a: unknown, b: number) => assert.ok(Math.abs((a as number) - b) < 1e-12, `${String(a)} vs ${b}`);
    close(bar('peterrec (serial-each-conv)', 'accuracy').mean, 0.6);
    close(bar('peterrec (serial-each-conv)', 'accuracy').std, 0.1);
    close(bar('peterrec (serial-each-conv)', 'accuracy').low, 0.5);
    close(bar('peterrec (serial-each-conv)', 'accuracy').high, 0.7);
    close(bar('fine-cls', 'macro-F1').mean, 0.3);
    close(bar('fine-cls', 'macro-F1').std, 0);
    close(bar('baseline: majority class', 'accuracy').mean, 0.5);
    close(bar('baseline: logistic regression on items', 'AUC').mean, 0.8);
    const colour = ((spec.layer as { encoding: { color?: { scale?: { domain: string[]; range: string[] } } } }[])[0]!.encoding.color!.scale)!;
    assert.deepEqual(colour.domain, ['baseline: majority class', 'baseline: logistic regression on items', 'peterrec (serial-each-conv)', 'fine-cls']);
    assert.ok(colour.range.slice(0, 2).every((c) => /^#([0-9a-f]{2})\1\1$/.test(c)), `baselines are grey: ${colour.range.join(',')}`);
    assert.ok(colour.range.slice(2).every((c) => !/^#([0-9a-f]{2})\1\1$/.test(c)), `strategies are coloured: ${colour.range.join(',')}`);
  });

  it('sequence lengths: every user in exactly one bin, bins of equal width covering min..max', () => {
    const lengths = [2, 3, 3, 5, 9, 9, 9, 200];
    const ds = datasetFromSequences(lengths.map((n) => Array.from({ length: n }, (_, i) => 1 + (i % 4))), 4);
    const bins = sequenceLengthBins(ds, 10);
    assert.equal(bins.reduce((a, b) => a + b.users, 0), lengths.length);
    assert.equal(bins[0]!.from, 2);
    assert.ok(bins.at(-1)!.from <= 200 && 200 < bins.at(-1)!.to);
    const width = bins[0]!.to - bins[0]!.from;
    assert.ok(bins.every((b, i) => b.to - b.from === width && (i === 0 || b.from === bins[i - 1]!.to)));
    assert.ok(bins.length <= 10);
    const unit = sequenceLengthBins(datasetFromSequences([[1, 2], [1, 2, 3], [1, 2, 3]], 3));
    assert.deepEqual(unit, [{ from: 2, to: 3, users: 1 }, { from: 3, to: 4, users: 2 }]);
  });

  it('item popularity: counts by rank, most popular first; items never seen are counted apart', () => {
    // Item 1: 3 times, item 2: once, item 3: twice, item 4: never.
    const ds = datasetFromSequences([[1, 1, 3], [1, 2, 3]], 4);
    const { curve, itemsWithout } = itemPopularityCurve(ds);
    assert.deepEqual(curve, [{ rank: 1, interactions: 3 }, { rank: 2, interactions: 2 }, { rank: 3, interactions: 1 }]);
    assert.equal(itemsWithout, 1);
    // Many items: log-spaced ranks, always the first and the last, counts never increasing.
    const many = datasetFromSequences(Array.from({ length: 50 }, (_, u) => Array.from({ length: 40 }, (_, i) => 1 + ((u * 7 + i * i) % 5000))), 5000);
    const big = itemPopularityCurve(many, 50).curve;
    assert.ok(big.length < 200, `${big.length} points`);
    assert.equal(big[0]!.rank, 1);
    assert.ok(big.every((p, i) => i === 0 || (p.rank > big[i - 1]!.rank && p.interactions <= big[i - 1]!.interactions)));
  });
});

describe('report: reading metrics.jsonl', () => {
  it('keeps the last record of an epoch written twice, and names the line of a broken record', async () => {
    const dir = tempDir();
    const line = (r: EpochRecord) => JSON.stringify(r);
    writeFileSync(join(dir, 'metrics.jsonl'), [epoch(1, { 'next-item': 5 }, 5, 0.1), epoch(2, { 'next-item': 4 }, 4, 0.2), epoch(2, { 'next-item': 3.9 }, 3.9, 0.25)].map(line).join('\n') + '\n');
    const records = await readPretrainingMetrics(dir);
    assert.deepEqual(records.map((r) => [r.epoch, r.trainLoss]), [[1, 5], [2, 3.9]]);
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'metrics.jsonl'), line(epoch(1, { 'next-item': 5 }, 5, 0.1)) + '\n{"epoch": 2, "trainLoss": "x"}\n');
    await assert.rejects(readPretrainingMetrics(bad), (err: Error) => err instanceof ModelError && /metrics\.jsonl:2: not an epoch record \(trainLoss/.test(err.message));
    writeFileSync(join(bad, 'metrics.jsonl'), '{"epoch": 1,\n');
    await assert.rejects(readPretrainingMetrics(bad), /metrics\.jsonl:1: not valid JSON/);
    await assert.rejects(readPretrainingMetrics(join(dir, 'none')), /metrics\.jsonl: missing/);
  });
});
