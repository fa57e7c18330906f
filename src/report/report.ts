/**
 * `graftrec report`: the pretraining run (loss terms and validation metrics per epoch), optionally a transfer
 * experiment (strategies and baselines, mean ± std over seeds) and the dataset's statistics, as one HTML page.
 */
import { basename } from 'node:path';
import { Dataset } from '../data/dataset.js';
import { overSeeds, seedsPhrase } from '../eval/summary.js';
import { readModelDirConfig } from '../train/checkpoint.js';
import { EpochRecord } from '../train/pretrain.js';
import { experimentRows } from '../transfer/experiment.js';
import {
  experimentChart, itemPopularityChart, itemPopularityCurve, lossChart, rowLabel, sequenceLengthBins, sequenceLengthChart,
  validationChart,
} from './charts.js';
import { ExperimentFile, readExperiment, readPretrainingMetrics, reportDataset } from './inputs.js';
import { ReportContent, ReportSection, reportPage } from './page.js';

export interface ReportOptions {
  model: string;
  /** A transfer experiment's results.json or output directory. */
  experiment?: string;
  /** The dataset for the statistics (default: the one recorded in the model's config.json, when it is there). */
  data?: string;
}

export interface Report {
  html: string;
  charts: number;
  /** Why a part the page could have had is missing (shown on the page too). */
  notes: string[];
}

/** Reads and checks every input first, so a bad one stops the report before anything is written. */
export async function buildReport(o: ReportOptions): Promise<Report> {
  const config = await readModelDirConfig(o.model);
  const records = await readPretrainingMetrics(o.model);
  const experiment = o.experiment !== undefined ? await readExperiment(o.experiment) : null;
  const data = await reportDataset(config, o.model, o.data);
  const m = config.model;
  const sections: ReportSection[] = [pretrainingSection(records, `${m.backbone} (${config.train.objective} objective, ${m.itemEncoder} item encoder), ${m.numItems.toLocaleString('en-US')} items, ${m.dim} channels, sequences of up to ${m.maxLen}.`)];
  if (experiment) sections.push(experimentSection(experiment));
  const notes: string[] = [];
  if (data.dataset) sections.push(datasetSection(data.dataset, data.path));
  else notes.push(data.note);
  if (notes.length > 0) sections.push({ title: 'Not shown', paragraphs: notes, tables: [], charts: [] });
  const content: ReportContent = {
    title: `graftrec report: ${basename(o.model) || o.model}`,
    subtitle: `Model ${o.model}, trained on ${config.dataset}.`,
    sections,
  };
  return { html: reportPage(content), charts: sections.reduce((n, s) => n + s.charts.length, 0), notes };
}

const fixed = (v: number | null | undefined, digits = 4) => (typeof v === 'number' ? v.toFixed(digits) : '–');

function pretrainingSection(records: readonly EpochRecord[], model: string): ReportSection {
  if (records.length === 0) return { title: 'Pretraining', paragraphs: [model, 'metrics.jsonl records no epoch yet.'], tables: [], charts: [] };
  const terms = [...new Set(records.flatMap((r) => Object.keys(r.trainLosses)))] as (keyof EpochRecord['trainLosses'])[];
  const metrics = [...new Set(records.flatMap((r) => Object.keys(r.valid)))];
  const best = records.reduce((a, r) => ((r.valid['NDCG@10'] ?? -Infinity) > (a.valid['NDCG@10'] ?? -Infinity) ? r : a));
  const seconds = records.reduce((a, r) => a + r.epochSeconds, 0);
  const summary = `${records.length} epoch${records.length === 1 ? '' : 's'} in ${seconds.toFixed(1)} s` +
    (best.valid['NDCG@10'] !== undefined ? `; the highest validation NDCG@10, ${fixed(best.valid['NDCG@10'])}, at epoch ${best.epoch}.` : '.');
  const lossHeaders = terms.length > 1 ? [...terms.map((t) => `loss: ${t}`), 'loss (weighted sum)'] : ['loss'];
  return {
    title: 'Pretraining',
    paragraphs: [model, summary],
    charts: [
      { title: terms.length > 1 ? 'Training loss per term' : 'Training loss', spec: lossChart(records) },
      { title: 'Validation metrics', spec: validationChart(records) },
    ],
    tables: [{
      header: ['epoch', ...lossHeaders, ...metrics.map((k) => `valid ${k}`), 'seconds'],
      numeric: [true, ...lossHeaders.map(() => true), ...metrics.map(() => true), true],
      rows: records.map((r) => [
        String(r.epoch),
        ...(terms.length > 1 ? [...terms.map((t) => fixed(r.trainLosses[t])), fixed(r.trainLoss)] : [fixed(r.trainLoss)]),
        ...metrics.map((k) => fixed(r.valid[k])),
        r.epochSeconds.toFixed(1),
      ]),
    }],
  };
}

function experimentSection(e: ExperimentFile): ReportSection {
  const table = experimentRows(e, e.spec);
  const seeds = seedsPhrase(table.seeds);
  return {
    title: `Transfer experiment: ${e.task}`,
    paragraphs: [
      `Task ${e.task} (${e.spec.type})${e.data ? ` on ${e.data}` : ''}${e.model ? `, from the model ${e.model}` : ''}; ${seeds}; read from ${e.path}.`,
      'Baselines (grey) are computed on the same test users as the strategies.',
    ],
    tables: [{
      header: ['row', ...table.columns, table.validationHeader, 'trained params', '% of total', 'train s'],
      numeric: [false, ...table.columns.map(() => true), true, true, true, true],
      rows: table.rows.map((row) => {
        const r0 = row.runs[0];
        return [
          rowLabel(row), ...row.test.map((values) => overSeeds(values)), overSeeds(row.validation),
          r0 ? r0.trainedParams.toLocaleString('en-US') : '–',
          r0 ? `${((100 * r0.trainedParams) / r0.totalParams).toFixed(1)}%` : '–',
          r0 ? (row.runs.reduce((a, r) => a + r.trainSeconds, 0) / row.runs.length).toFixed(1) : '–',
        ];
      }),
    }],
    charts: [{ title: `${e.task}: test scores of the baselines and strategies`, spec: experimentChart(table) }],
  };
}

function datasetSection(ds: Dataset, path: string): ReportSection {
  const lengths = Array.from({ length: ds.meta.numUsers }, (_, u) => ds.offsets[u + 1]! - ds.offsets[u]!).sort((a, b) => a - b);
  const median = lengths.length === 0 ? NaN
    : lengths.length % 2 === 1 ? lengths[(lengths.length - 1) / 2]! : (lengths[lengths.length / 2 - 1]! + lengths[lengths.length / 2]!) / 2;
  const { curve, itemsWithout } = itemPopularityCurve(ds);
  const count = (n: number) => n.toLocaleString('en-US');
  const rows: [string, string][] = [
    ['users', count(ds.meta.numUsers)],
    ['items', count(ds.meta.numItems)],
    ['interactions', count(ds.meta.numInteractions)],
    ['interactions per user: min / median / mean / max', lengths.length === 0 ? '–'
      : `${lengths[0]} / ${median} / ${(ds.meta.numInteractions / ds.meta.numUsers).toFixed(1)} / ${lengths[lengths.length - 1]}`],
    ['domains', ds.meta.domains ? ds.meta.domains.join(', ') : '–'],
    ['user attributes', ds.meta.attributes.length > 0 ? ds.meta.attributes.join(', ') : '–'],
  ];
  return {
    title: 'Dataset',
    paragraphs: [`Read from ${path}${itemsWithout > 0 ? `; ${count(itemsWithout)} items with no interaction are left out of the popularity curve` : ''}.`],
    tables: [{ header: ['', ''], numeric: [false, true], rows }],
    charts: [
      { title: 'Sequence length', spec: sequenceLengthChart(sequenceLengthBins(ds)) },
      { title: 'Item popularity (log-log)', spec: itemPopularityChart(curve) },
    ],
  };
}
