/**
 * The report's charts as Vega-Lite specifications, each built from numbers computed here (the page embeds the
 * aggregated values only, never a dataset's raw interactions).
 */
import { Dataset } from '../data/dataset.js';
import { meanAndStd } from '../eval/summary.js';
import { EpochRecord } from '../train/pretrain.js';
import { ExperimentRow, ExperimentRows } from '../transfer/experiment.js';

export type VegaLiteSpec = Record<string, unknown>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 380;
const HEIGHT = 240;

const epochAxis = { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } };

/** Lines with points over epochs, one colour per series. */
function perEpochLines(values: object[], valueField: string, valueTitle: string, seriesTitle: string, zero: boolean): VegaLiteSpec {
  return {
    $schema: SCHEMA, width: WIDTH, height: HEIGHT,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: epochAxis,
      y: { field: valueField, type: 'quantitative', title: valueTitle, scale: { zero } },
      color: { field: 'series', type: 'nominal', title: seriesTitle, legend: { orient: 'top' } },
      tooltip: [{ field: 'series', title: seriesTitle }, { field: 'epoch' }, { field: valueField, format: '.4f' }],
    },
  };
}

/** Each loss term's epoch mean, and their weighted sum when the objective has more than one term. */
export function lossChart(records: readonly EpochRecord[]): VegaLiteSpec {
  const terms = [...new Set(records.flatMap((r) => Object.keys(r.trainLosses)))];
  const values = records.flatMap((r) => {
    const losses: Record<string, number | null | undefined> = r.trainLosses;
    return [
      ...terms.filter((term) => typeof losses[term] === 'number').map((term) => ({ epoch: r.epoch, series: term, loss: losses[term] })),
      ...(terms.length > 1 ? [{ epoch: r.epoch, series: 'total (weighted sum)', loss: r.trainLoss }] : []),
    ];
  });
  return perEpochLines(values, 'loss', 'training loss (epoch mean)', 'loss term', false);
}

/** The validation metrics of every epoch (full ranking on the validation split). */
export function validationChart(records: readonly EpochRecord[]): VegaLiteSpec {
  const values = records.flatMap((r) => Object.entries(r.valid)
    .filter(([, value]) => typeof value === 'number')
    .map(([metric, value]) => ({ epoch: r.epoch, series: metric, value })));
  return perEpochLines(values, 'value', 'validation score', 'metric', true);
}

const BASELINE_COLOURS = ['#8c8c8c', '#5b5b5b', '#b5b5b5', '#3a3a3a'];
const STRATEGY_COLOURS = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#17becf'];

/** How a row of an experiment is named in its chart and table. */
export function rowLabel(row: ExperimentRow): string {
  if (row.kind === 'baseline') return `baseline: ${row.name}`;
  return row.insertion ? `${row.name} (${row.insertion})` : row.name;
}

/**
 * Grouped bars: one group per test metric, one bar per baseline (greys, first) and per strategy × insertion
 * (colours), each the mean over seeds with a ± one standard deviation error bar.
 */
export function experimentChart(table: ExperimentRows): VegaLiteSpec {
  const labels = table.rows.map(rowLabel);
  const values = table.rows.flatMap((row, r) => table.columns.flatMap((metric, c) => {
    const s = meanAndStd(row.test[c]!);
    return s === null ? [] : [{ metric, row: labels[r], mean: s.mean, std: s.std, low: s.mean - s.std, high: s.mean + s.std, seeds: s.n }];
  }));
  let baselines = 0;
  let strategies = 0;
  const colours = table.rows.map((row) => (row.kind === 'baseline'
    ? BASELINE_COLOURS[baselines++ % BASELINE_COLOURS.length]
    : STRATEGY_COLOURS[strategies++ % STRATEGY_COLOURS.length]));
  const black = { value: 'black' };
  return {
    $schema: SCHEMA,
    width: Math.min(900, table.columns.length * (22 * labels.length + 30)), height: HEIGHT,
    data: { values },
    encoding: {
      x: { field: 'metric', type: 'nominal', sort: table.columns, title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'row', type: 'nominal', sort: labels, scale: { paddingInner: 0.1 } },
    },
    layer: [
      {
        mark: 'bar',
        encoding: {
          y: { field: 'mean', type: 'quantitative', title: `test score (mean ± std over ${table.seeds.length === 1 ? '1 seed' : `${table.seeds.length} seeds`})` },
          color: { field: 'row', type: 'nominal', title: null, sort: labels, scale: { domain: labels, range: colours }, legend: { orient: 'right', labelLimit: 320 } },
          tooltip: [{ field: 'row', title: 'row' }, { field: 'metric' }, { field: 'mean', format: '.4f' }, { field: 'std', format: '.4f' }, { field: 'seeds' }],
        },
      },
      { mark: 'rule', encoding: { y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color: black } },
      { mark: { type: 'tick', thickness: 1, size: 8 }, encoding: { y: { field: 'low', type: 'quantitative' }, color: black } },
      { mark: { type: 'tick', thickness: 1, size: 8 }, encoding: { y: { field: 'high', type: 'quantitative' }, color: black } },
    ],
  };
}

export interface SequenceLengthBin {
  from: number;
  /** Exclusive. */
  to: number;
  users: number;
}

/** Users per sequence length, in at most `maxBins` bins of equal integer width. */
export function sequenceLengthBins(ds: Dataset, maxBins = 40): SequenceLengthBin[] {
  const lengths = Array.from({ length: ds.meta.numUsers }, (_, u) => ds.offsets[u + 1]! - ds.offsets[u]!);
  if (lengths.length === 0) return [];
  const min = lengths.reduce((a, b) => Math.min(a, b));
  const max = lengths.reduce((a, b) => Math.max(a, b));
  const width = Math.max(1, Math.ceil((max - min + 1) / maxBins));
  const bins = Array.from({ length: Math.floor((max - min) / width) + 1 }, (_, b) => ({ from: min + b * width, to: min + (b + 1) * width, users: 0 }));
  for (const length of lengths) bins[Math.floor((length - min) / width)]!.users++;
  return bins;
}

export function sequenceLengthChart(bins: readonly SequenceLengthBin[]): VegaLiteSpec {
  const width = bins.length > 0 ? bins[0]!.to - bins[0]!.from : 1;
  return {
    $schema: SCHEMA, width: WIDTH, height: HEIGHT,
    data: { values: bins },
    mark: { type: 'bar', color: '#4c78a8' },
    encoding: {
      x: { field: 'from', bin: { binned: true, step: width }, type: 'quantitative', title: 'interactions per user', axis: { labelOverlap: true } },
      x2: { field: 'to' },
      y: { field: 'users', type: 'quantitative', title: 'users' },
      tooltip: [{ field: 'from', title: 'from' }, { field: 'to', title: 'to (exclusive)' }, { field: 'users' }],
    },
  };
}

export interface PopularityPoint {
  /** 1 = the most interacted-with item. */
  rank: number;
  interactions: number;
}

/**
 * Interactions per item against the item's popularity rank, for a log-log plot: every rank up to 100, then about
 * `points` ranks spaced evenly in log scale, and the last item.
 */
export function itemPopularityCurve(ds: Dataset, points = 200): { curve: PopularityPoint[]; itemsWithout: number } {
  const counts = new Int32Array(ds.meta.numItems + 1);
  for (const item of ds.sequences) counts[item]!++;
  const sorted = Array.from(counts.subarray(1)).sort((a, b) => b - a);
  const withInteractions = sorted.filter((c) => c > 0);
  const n = withInteractions.length;
  const ranks = new Set<number>();
  for (let r = 1; r <= Math.min(n, 100); r++) ranks.add(r);
  for (let i = 0; i <= points && n > 100; i++) ranks.add(Math.round(Math.exp((Math.log(n) * i) / points)));
  if (n > 0) ranks.add(n);
  const curve = [...ranks].filter((r) => r >= 1 && r <= n).sort((a, b) => a - b).map((rank) => ({ rank, interactions: withInteractions[rank - 1]! }));
  return { curve, itemsWithout: sorted.length - n };
}

export function itemPopularityChart(curve: readonly PopularityPoint[]): VegaLiteSpec {
  return {
    $schema: SCHEMA, width: WIDTH, height: HEIGHT,
    data: { values: curve },
    mark: { type: 'line', point: { size: 12 }, color: '#4c78a8' },
    encoding: {
      x: { field: 'rank', type: 'quantitative', title: 'item popularity rank (log)', scale: { type: 'log' } },
      y: { field: 'interactions', type: 'quantitative', title: 'interactions (log)', scale: { type: 'log' } },
      tooltip: [{ field: 'rank' }, { field: 'interactions' }],
    },
  };
}
