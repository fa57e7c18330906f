/**
 * What a report reads: the pretraining run's per-epoch records (MODEL/metrics.jsonl), a transfer experiment's
 * results.json, and the dataset the model was trained on. Each is checked, and a bad one is refused with one line
 * naming the file and the problem.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { Dataset, loadDataset } from '../data/dataset.js';
import { DataError, GraftrecError, ModelError } from '../errors.js';
import { ModelDirConfig, assertSameVocabulary } from '../train/checkpoint.js';
import { EpochRecord } from '../train/pretrain.js';
import { ExperimentResult } from '../transfer/experiment.js';
import { TaskSpec } from '../transfer/tasks.js';

const finite = z.number().refine(Number.isFinite, 'not a finite number');

const EpochRecordSchema = z.object({
  epoch: z.number().int().positive(),
  trainLoss: finite,
  trainLosses: z.record(z.string(), finite.nullable()),
  valid: z.record(z.string(), finite.nullable()),
  epochSeconds: finite,
});

/** One record per epoch in epoch order; a resumed run that wrote an epoch twice counts its last record. */
export async function readPretrainingMetrics(modelDir: string): Promise<EpochRecord[]> {
  const path = join(modelDir, 'metrics.jsonl');
  if (!existsSync(path)) throw new ModelError(`${path}: missing (the per-epoch records \`graftrec pretrain\` writes)`);
  const byEpoch = new Map<number, EpochRecord>();
  const lines = (await readFile(path, 'utf8')).split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new ModelError(`${path}:${i + 1}: not valid JSON`);
    }
    const record = EpochRecordSchema.safeParse(parsed);
    if (!record.success) throw new ModelError(`${path}:${i + 1}: not an epoch record (${describeIssue(record.error)})`);
    byEpoch.set(record.data.epoch, parsed as EpochRecord);
  });
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

const TaskSpecSchema = z.object({ type: z.enum(['classify', 'recommend', 'next-item']) }).loose();

const ExperimentFileSchema = z.object({
  task: z.string(),
  spec: TaskSpecSchema,
  model: z.string().optional(),
  data: z.string().optional(),
  runs: z.array(z.object({
    strategy: z.string(),
    insertion: z.string().nullable(),
    seed: z.number(),
    trainedParams: z.number(),
    totalParams: z.number(),
    trainSeconds: z.number(),
    validation: z.record(z.string(), z.unknown()),
    test: z.record(z.string(), z.unknown()),
  }).loose()),
  baselines: z.array(z.object({ seed: z.number() }).loose()),
});

/** What `graftrec experiment transfer` writes to OUT/results.json. */
export interface ExperimentFile extends ExperimentResult {
  task: string;
  spec: TaskSpec;
  model?: string;
  data?: string;
  /** The file it was read from. */
  path: string;
}

/** `pathOrDir`: a results.json, or the experiment's output directory holding one. */
export async function readExperiment(pathOrDir: string): Promise<ExperimentFile> {
  if (!existsSync(pathOrDir)) throw new DataError(`${pathOrDir}: no such experiment file or directory`);
  const path = statSync(pathOrDir).isDirectory() ? join(pathOrDir, 'results.json') : pathOrDir;
  if (!existsSync(path)) throw new DataError(`${pathOrDir}: no results.json in it (the directory \`graftrec experiment transfer --out\` writes)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new DataError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (parsed !== null && typeof parsed === 'object' && 'byLabelFraction' in parsed) {
    throw new DataError(`${path}: holds one grid per share of labelled users (experiment transfer --label-fractions), and a report draws one grid; `
      + 'run experiment transfer with --label-fraction F for the share to draw');
  }
  const result = ExperimentFileSchema.safeParse(parsed);
  if (!result.success) throw new DataError(`${path}: not a transfer experiment's results (${describeIssue(result.error)})`);
  if (result.data.runs.length === 0 && result.data.baselines.length === 0) throw new DataError(`${path}: holds no runs and no baselines`);
  return { ...(parsed as Omit<ExperimentFile, 'path'>), path };
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}

export type ReportDataset = { dataset: Dataset; path: string } | { dataset: null; note: string };

/**
 * The dataset whose statistics the report shows: `data` when given (it must be the model's vocabulary), else the
 * one recorded in the model's config.json (relative to the working directory, as pretraining was given it) when
 * it is there and still matches; otherwise a note saying why there are no statistics.
 */
export async function reportDataset(config: ModelDirConfig, modelDir: string, data: string | undefined): Promise<ReportDataset> {
  if (data !== undefined) {
    const dataset = await loadDataset(data);
    assertSameVocabulary(config, dataset.items, modelDir, data);
    return { dataset, path: data };
  }
  const recorded = config.dataset;
  const path = isAbsolute(recorded) ? recorded : resolve(recorded);
  if (!existsSync(join(path, 'dataset.json'))) {
    return { dataset: null, note: `The dataset the model was trained on (${recorded}, as recorded in config.json) is not there now; pass --data DIR to add its statistics.` };
  }
  try {
    const dataset = await loadDataset(path);
    assertSameVocabulary(config, dataset.items, modelDir, recorded);
    return { dataset, path: recorded };
  } catch (err) {
    if (!(err instanceof GraftrecError)) throw err;
    return { dataset: null, note: `No dataset statistics: ${err.message}` };
  }
}
