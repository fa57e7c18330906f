/**
 * The backbone comparison on one dataset: each backbone pretrained with its own published defaults (and the
 * shared options: epochs, patience, max-len, seed) per seed, then scored on the leave-one-out test items by full
 * ranking and by the sampled-100 protocol papers use — the same code as `graftrec evaluate` — next to popularity.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backbone, TRAIN_DEFAULTS } from '../config/schema.js';
import { loadDataset } from '../data/dataset.js';
import { itemCounts, leaveOneOutSplit } from '../data/split.js';
import { evaluateNextItem } from '../eval/evaluate.js';
import { overSeeds, seedsPhrase } from '../eval/summary.js';
import { loadModelDir } from './checkpoint.js';
import { Progress } from './progress.js';
import { pretrain } from './pretrain.js';

/** Candidates beside the target in the sampled protocol. */
export const SAMPLED_NEGATIVES = 100;
const K = 10;
const METRICS = [`HR@${K}`, `NDCG@${K}`, `MRR@${K}`] as const;

export interface BackboneRun {
  backbone: Backbone;
  seed: number;
  /** Test metrics by full ranking over every item. */
  full: Record<string, number>;
  /** Test metrics with the target among SAMPLED_NEGATIVES random negatives. */
  sampled: Record<string, number>;
  epochs: number;
  bestEpoch: number;
  /** Seconds of training steps over all epochs (validation excluded). */
  trainSeconds: number;
  /** Training sequences (windows) per second, over all epochs. */
  sequencesPerSec: number;
  parameters: number;
}

export interface BackboneExperimentOptions {
  data: string;
  backbones: readonly Backbone[];
  seeds: readonly number[];
  epochs: number;
  patience: number;
  maxLen: number;
  progress?: Progress;
  onRun?: (run: BackboneRun) => void;
}

export interface BackboneExperimentResult {
  users: number;
  items: number;
  runs: BackboneRun[];
  /** Popularity on the same test users (it does not depend on the seed, except for the sampled negatives). */
  popularity: { full: Record<string, number>; sampled: Record<string, number> }[];
}

/** The training settings of every run but its seed: pretraining's defaults with the experiment's epochs and patience. */
export function backboneTrainSettings(o: Pick<BackboneExperimentOptions, 'epochs' | 'patience'>) {
  return { ...TRAIN_DEFAULTS, epochs: o.epochs, patience: o.patience, objective: null };
}

export async function runBackboneExperiment(o: BackboneExperimentOptions): Promise<BackboneExperimentResult> {
  const ds = await loadDataset(o.data);
  const split = leaveOneOutSplit(ds);
  const counts = itemCounts(split.train, ds.meta.numItems);
  const work = await mkdtemp(join(tmpdir(), 'graftrec-backbones-'));
  const runs: BackboneRun[] = [];
  const popularity: BackboneExperimentResult['popularity'] = [];
  try {
    for (const seed of o.seeds) {
      for (const [i, backbone] of o.backbones.entries()) {
        const out = join(work, `${backbone}-${seed}`);
        const trained = await pretrain({
          data: o.data, out, model: { backbone, maxLen: o.maxLen },
          train: { ...backboneTrainSettings(o), seed }, progress: o.progress,
        });
        const { model } = await loadModelDir(out);
        const full = evaluateNextItem(model, split.test, counts, { ks: [K], maskHistory: false });
        const sampled = evaluateNextItem(model, split.test, counts, { ks: [K], maskHistory: false, sampledNegatives: SAMPLED_NEGATIVES, seed });
        if (i === 0) popularity.push({ full: full.popularity!, sampled: sampled.popularity! });
        const trainSeconds = trained.history.reduce((s, e) => s + e.epochSeconds, 0);
        const sequences = trained.history.reduce((s, e) => s + e.sequencesPerSec * e.epochSeconds, 0);
        const run: BackboneRun = {
          backbone, seed, full: full.metrics, sampled: sampled.metrics, epochs: trained.epochs, bestEpoch: trained.bestEpoch,
          trainSeconds, sequencesPerSec: sequences / trainSeconds, parameters: model.parameters().reduce((n, p) => n + p.size, 0),
        };
        runs.push(run);
        o.onRun?.(run);
        await rm(out, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { users: split.test.targets.length, items: ds.meta.numItems, runs, popularity };
}

/** One Markdown row per backbone (and popularity): full-ranking and sampled metrics, as mean ± std over several seeds. */
export function backboneTable(result: BackboneExperimentResult, data: string): string {
  const seeds = [...new Set(result.runs.map((r) => r.seed))];
  const metricCells = (rows: { full: Record<string, number>; sampled: Record<string, number> }[]) =>
    [...METRICS.map((m) => overSeeds(rows.map((r) => r.full[m]!))), ...METRICS.map((m) => overSeeds(rows.map((r) => r.sampled[m]!)))];
  const lines = [
    `Next-item test metrics on \`${data}\` (${result.users} users, ${result.items} items; leave-one-out, history not masked); ${seedsPhrase(seeds)}.`,
    `Full: ranked among all items. Sampled: ranked among ${SAMPLED_NEGATIVES} random negatives (for comparison with papers only).`,
    '',
    `| backbone | ${METRICS.map((m) => `full ${m}`).join(' | ')} | ${METRICS.map((m) => `sampled ${m}`).join(' | ')} | epochs | train s | sequences/s | parameters |`,
    `| --- | ${METRICS.map(() => '---:').join(' | ')} | ${METRICS.map(() => '---:').join(' | ')} | ---: | ---: | ---: | ---: |`,
    `| baseline: popularity | ${metricCells(result.popularity).join(' | ')} | – | – | – | – |`,
  ];
  const backbones = [...new Set(result.runs.map((r) => r.backbone))];
  for (const backbone of backbones) {
    const group = result.runs.filter((r) => r.backbone === backbone);
    const mean = (f: (r: BackboneRun) => number) => group.reduce((s, r) => s + f(r), 0) / group.length;
    lines.push(`| ${backbone} | ${metricCells(group).join(' | ')} | ${mean((r) => r.epochs).toFixed(1)} | ${mean((r) => r.trainSeconds).toFixed(1)} | ${mean((r) => r.sequencesPerSec).toFixed(0)} | ${group[0]!.parameters.toLocaleString('en-US')} |`);
  }
  return lines.join('\n') + '\n';
}
