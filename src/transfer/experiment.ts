/**
 * The PeterRec comparison on any dataset: every strategy (× insertion variant, for the patched ones) × seed,
 * aggregated as mean ± standard deviation over seeds, with trained parameters, patch size and training time.
 * The baselines are computed once per seed (the seed draws the user split; the strategy does not matter to
 * them) and tabulated as rows of their own.
 */
import { Dataset } from '../data/dataset.js';
import { ValidationFold, foldTag, validationFolds } from '../data/split.js';
import { DataError } from '../errors.js';
import { overSeeds, perSeedMeans, seedsPhrase } from '../eval/summary.js';
import { UserEncoder } from '../models/encoder.js';
import { createEncoder, itemSideOf } from '../models/encoders.js';
import { Rng } from '../tensor/index.js';
import { PatchInsertion, defaultInsertion } from './insertion.js';
import { Strategy, defaultLearningRate, strategyUsesPatches, strategyUsesPretraining } from './strategies.js';
import { TransferOptions } from './task.js';
import { TaskBaselines, TaskData, TaskResult, TaskSpec, headline, headlineName, runTask, runTaskBaselines } from './tasks.js';

export interface ExperimentRun {
  strategy: Strategy;
  insertion: PatchInsertion | null;
  seed: number;
  /** With cross-validation (`folds`), the fold that validated this run. */
  fold?: number;
  trainedParams: number;
  totalParams: number;
  patchBytes: number;
  epochs: number;
  /** The epoch whose weights were kept (0: the starting point). */
  bestEpoch: number;
  /** Recommend with an item-pair table: the multiple of the co-occurrence weights it started at (chosen on validation). */
  itemPairsStartScale?: number;
  trainSeconds: number;
  /** Scores on the validation users at the kept epoch (what settings may be chosen by). */
  validation: Record<string, number>;
  /** accuracy (classify) or NDCG@10 (recommend) */
  headline: { name: string; value: number };
  test: TaskResult['test'];
}

export interface ExperimentOptions extends Omit<TransferOptions, 'model' | 'strategy' | 'insertion' | 'seed' | 'lr'>, TaskData {
  /** null: each strategy's default learning rate. */
  lr: number | null;
  spec: TaskSpec;
  strategies: Strategy[];
  insertions: (PatchInsertion | null)[];
  seeds: number[];
  /**
   * Cross-validation over each seed's non-test users: every run (and the baselines) once per fold, each fold
   * validating in turn; a seed's numbers are then the mean over its folds. 1 (the default): the usual split.
   */
  folds?: number;
  /** A fresh copy of the pretrained model for each run (fine-tuning changes weights). */
  loadBase: () => Promise<UserEncoder>;
  onRun?: (run: ExperimentRun) => void;
  onBaselines?: (baselines: SeedBaselines) => void;
}

/** The baselines of one seed (and, with cross-validation, one fold). */
export type SeedBaselines = { seed: number; fold?: number } & TaskBaselines;

export interface ExperimentResult {
  runs: ExperimentRun[];
  baselines: SeedBaselines[];
}

/** Each (seed, fold) an experiment runs: one fold per seed (the usual split) unless it cross-validates. */
export function seedFolds(o: Pick<ExperimentOptions, 'seeds' | 'folds' | 'spec'>): { seed: number; fold?: ValidationFold }[] {
  const folds = o.folds ?? 1;
  if (folds > 1 && o.spec.type === 'next-item') throw new DataError('--folds: the next-item task splits its users its own way; cross-validation applies to classify and recommend');
  return o.seeds.flatMap((seed) => validationFolds(folds).map((fold) => (fold ? { seed, fold } : { seed })));
}

export async function runTransferExperiment(o: ExperimentOptions): Promise<ExperimentResult> {
  const baselines: SeedBaselines[] = [];
  const splits = seedFolds(o);
  for (const { seed, fold } of splits) {
    const b: SeedBaselines = { seed, ...foldTag(fold), ...runTaskBaselines(o.spec, o, { ...o, lr: o.lr ?? undefined, seed, fold }) };
    baselines.push(b);
    o.onBaselines?.(b);
  }
  const runs: ExperimentRun[] = [];
  for (const strategy of o.strategies) {
    const insertions: (PatchInsertion | null)[] = strategyUsesPatches(strategy) ? o.insertions : [null];
    for (const insertion of insertions) {
      for (const { seed, fold } of splits) {
        const base = await o.loadBase();
        const model = strategyUsesPretraining(strategy) ? base : createEncoder(base.config, new Rng(seed), itemSideOf(base));
        const lr = o.lr ?? defaultLearningRate(strategy, o.spec.type);
        const r = runTask(o.spec, o, { ...o, lr, model, strategy, insertion: insertion ?? defaultInsertion(model.backbone), seed, fold });
        const run: ExperimentRun = {
          strategy, insertion, seed, ...foldTag(fold), trainedParams: r.trainedParams, totalParams: r.totalParams,
          patchBytes: r.patchBytes, epochs: r.epochs, bestEpoch: r.bestEpoch, trainSeconds: r.trainSeconds, headline: headline(r), test: r.test,
          validation: r.type === 'classify' ? { ...r.validation } : { 'NDCG@10': r.validationScore },
          ...(r.type === 'recommend' && r.itemPairsStartScale !== null ? { itemPairsStartScale: r.itemPairsStartScale } : {}),
        };
        runs.push(run);
        o.onRun?.(run);
      }
    }
  }
  return { runs, baselines };
}

/** The metric columns of the table, per task type: [header, key in a run's test metrics and in each baseline]. */
function metricColumns(spec: TaskSpec): [string, string][] {
  if (spec.type === 'classify') return [['accuracy', 'accuracy'], ['macro-F1', 'macroF1'], ['AUC', 'auc']];
  const ranking: [string, string][] = [['HR@10', 'HR@10'], ['NDCG@10', 'NDCG@10'], ['MRR@10', 'MRR@10']];
  return spec.type === 'next-item' ? [...ranking, ['cold-item HR@10', 'coldItems.HR@10']] : ranking;
}

/** The baseline rows of the table, per task type: [row name, its metrics in a seed's baselines]. */
function baselineRows(spec: TaskSpec): [string, (b: SeedBaselines) => object | undefined][] {
  const popularity: [string, (b: SeedBaselines) => object | undefined] = ['popularity', (b) => ('popularity' in b ? b.popularity : undefined)];
  if (spec.type === 'next-item') return [popularity, ['id model trained on the target alone', (b) => ('idModel' in b ? b.idModel : undefined)]];
  return spec.type === 'classify'
    ? [['majority class', (b) => ('majority' in b ? b.majority : undefined)],
      ['logistic regression on items', (b) => ('logisticRegression' in b ? b.logisticRegression : undefined)]]
    : [popularity, ['item co-occurrence', (b) => ('cooccurrence' in b ? b.cooccurrence : undefined)]];
}

/** A metric by key; a dotted key reads a nested report (`coldItems.HR@10`). NaN where there is none. */
const metric = (metrics: object | undefined, key: string): number => {
  let value: unknown = metrics;
  for (const part of key.split('.')) value = (value as Record<string, unknown> | undefined)?.[part];
  return Number(value ?? NaN);
};

/** The validation score settings are chosen by, per task type: [header, key in a run's or baseline's validation]. */
function validationColumn(spec: TaskSpec): [string, string] {
  return spec.type === 'classify' ? ['valid. log-loss', 'logLoss'] : ['valid. NDCG@10', 'NDCG@10'];
}

const validationOf = (metrics: object | undefined) => (metrics as { validation?: object } | undefined)?.validation;

/** One row of a result table: a baseline, or a strategy × insertion with its runs; each number over seeds. */
export interface ExperimentRow {
  kind: 'baseline' | 'strategy';
  /** The baseline's name, or the strategy. */
  name: string;
  insertion: PatchInsertion | null;
  /** One entry per metric column, in `columns` order: the values over seeds (NaN where a seed has none). */
  test: number[][];
  validation: number[];
  /** The strategy's runs (empty for a baseline). */
  runs: ExperimentRun[];
}

export interface ExperimentRows {
  /** The metric columns' headers. */
  columns: string[];
  validationHeader: string;
  seeds: number[];
  /** The baselines first, then the strategies in the order they ran. */
  rows: ExperimentRow[];
}

/** The rows every view of an experiment shows (the Markdown table, the report's bars). */
export function experimentRows(result: ExperimentResult, spec: TaskSpec): ExperimentRows {
  const { runs, baselines } = result;
  const columns = metricColumns(spec);
  const [validationHeader, validKey] = validationColumn(spec);
  const rows: ExperimentRow[] = baselineRows(spec).map(([name, metricsOf]) => ({
    kind: 'baseline', name, insertion: null, runs: [],
    test: columns.map(([, key]) => perSeedMeans(baselines, (b) => metric(metricsOf(b), key))),
    validation: perSeedMeans(baselines, (b) => metric(validationOf(metricsOf(b)), validKey)),
  }));
  const groups = new Map<string, ExperimentRun[]>();
  for (const r of runs) {
    const key = `${r.strategy}|${r.insertion ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  for (const group of groups.values()) {
    rows.push({
      kind: 'strategy', name: group[0]!.strategy, insertion: group[0]!.insertion, runs: group,
      test: columns.map(([, key]) => perSeedMeans(group, (r) => metric(r.test, key))),
      validation: perSeedMeans(group, (r) => metric(r.validation, validKey)),
    });
  }
  const seeds = [...new Set([...baselines.map((b) => b.seed), ...runs.map((r) => r.seed)])];
  return { columns: columns.map(([header]) => header), validationHeader, seeds, rows };
}

/** One Markdown table row per baseline, then one per strategy × insertion; metrics as mean ± std over seeds. */
export function experimentTable(result: ExperimentResult, dataset: Dataset, task: string, spec: TaskSpec): string {
  const { columns, validationHeader, seeds, rows } = experimentRows(result, spec);
  const folds = new Set([...result.runs, ...result.baselines].map((x) => x.fold ?? 0)).size;
  const crossValidated = folds > 1 ? ` (each seed: the mean over ${folds} folds of its non-test users, each validating in turn)` : '';
  const lines = [
    `Task \`${task}\` (${spec.type}) on ${dataset.meta.numUsers} users; ${seedsPhrase(seeds)}${crossValidated}.`,
    '',
    `| strategy | insertion | ${columns.join(' | ')} | ${validationHeader} | trained params | % of total | patch size | train s |`,
    `| --- | --- | ${columns.map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: | ---: |`,
  ];
  for (const row of rows) {
    const cells = row.test.map((values) => overSeeds(values)).join(' | ');
    const valid = overSeeds(row.validation);
    if (row.kind === 'baseline') {
      lines.push(`| baseline: ${row.name} | – | ${cells} | ${valid} | – | – | – | – |`);
      continue;
    }
    const r0 = row.runs[0]!;
    lines.push(`| ${row.name} | ${row.insertion ?? '–'} | ${cells} | ${valid} | ${r0.trainedParams.toLocaleString('en-US')} | ${((100 * r0.trainedParams) / r0.totalParams).toFixed(1)}% | ${(r0.patchBytes / 1024).toFixed(1)} KiB | ${(row.runs.reduce((a, r) => a + r.trainSeconds, 0) / row.runs.length).toFixed(1)} |`);
  }
  return lines.join('\n') + '\n';
}

/** One experiment at each share of labelled users (`--label-fractions`): the same strategies, seeds and test users. */
export interface LabelFractionResult {
  labelFraction: number;
  result: ExperimentResult;
}

/**
 * Markdown: one column per share of labelled users, one row per baseline and strategy × insertion, each cell the
 * task's headline metric (accuracy, or NDCG@10) as mean ± std over seeds with the validation score beside it — how
 * each fares as labels get scarce. The test users are the same in every column.
 */
export function labelFractionTable(results: LabelFractionResult[], spec: TaskSpec): string {
  const tables = results.map((r) => experimentRows(r.result, spec));
  const { columns, validationHeader } = tables[0]!;
  const metricName = headlineName(spec.type);
  const at = columns.indexOf(metricName);
  const keyOf = (row: ExperimentRow) => `${row.kind === 'baseline' ? 'baseline: ' : ''}${row.name}${row.insertion ? ` (${row.insertion})` : ''}`;
  const keys = [...new Set(tables.flatMap((t) => t.rows.map(keyOf)))];
  const lines = [
    `| test ${metricName} (${validationHeader}) | ${results.map((r) => `f = ${r.labelFraction}`).join(' | ')} |`,
    `| --- | ${results.map(() => '---:').join(' | ')} |`,
    ...keys.map((key) => `| ${key} | ${tables.map((t) => {
      const row = t.rows.find((x) => keyOf(x) === key);
      if (!row) return '–';
      const valid = row.validation.every((v) => Number.isNaN(v)) ? '' : ` (${overSeeds(row.validation)})`;
      return `${overSeeds(row.test[at]!)}${valid}`;
    }).join(' | ')} |`),
  ];
  return lines.join('\n') + '\n';
}
