/**
 * The PeterRec comparison on any dataset: every strategy (× insertion variant, for the patched ones) × seed,
 * aggregated as mean ± standard deviation over seeds, with trained parameters, patch size and training time.
 */
import { Dataset } from '../data/dataset.js';
import { NextItNet } from '../models/nextitnet.js';
import { Rng } from '../tensor/index.js';
import { ClassifyOptions, ClassifyResult, finetuneClassifier } from './classify.js';
import { PatchInsertion } from './insertion.js';
import { Strategy, strategyUsesPatches, strategyUsesPretraining } from './strategies.js';

export interface ExperimentRun {
  strategy: Strategy;
  insertion: PatchInsertion | null;
  seed: number;
  trainedParams: number;
  totalParams: number;
  patchBytes: number;
  epochs: number;
  trainSeconds: number;
  test: ClassifyResult['test'];
}

export interface ExperimentOptions extends Omit<ClassifyOptions, 'model' | 'strategy' | 'insertion' | 'seed'> {
  strategies: Strategy[];
  insertions: PatchInsertion[];
  seeds: number[];
  /** A fresh copy of the pretrained model for each run (fine-tuning changes weights). */
  loadBase: () => Promise<NextItNet>;
  onRun?: (run: ExperimentRun) => void;
}

export async function runTransferExperiment(o: ExperimentOptions): Promise<ExperimentRun[]> {
  const runs: ExperimentRun[] = [];
  for (const strategy of o.strategies) {
    const insertions: (PatchInsertion | null)[] = strategyUsesPatches(strategy) ? o.insertions : [null];
    for (const insertion of insertions) {
      for (const seed of o.seeds) {
        const base = await o.loadBase();
        const model = strategyUsesPretraining(strategy) ? base : new NextItNet(base.config, new Rng(seed));
        const r = finetuneClassifier({ ...o, model, strategy, insertion: insertion ?? 'serial-each-conv', seed });
        const run: ExperimentRun = {
          strategy, insertion, seed, trainedParams: r.trainedParams, totalParams: r.totalParams,
          patchBytes: r.patchBytes, epochs: r.epochs, trainSeconds: r.trainSeconds, test: r.test,
        };
        runs.push(run);
        o.onRun?.(run);
      }
    }
  }
  return runs;
}

function meanStd(values: number[]): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return '–';
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  const std = Math.sqrt(finite.reduce((a, b) => a + (b - mean) ** 2, 0) / finite.length);
  return `${mean.toFixed(4)} ± ${std.toFixed(4)}`;
}

/** One Markdown table row per strategy × insertion, metrics as mean ± std over seeds. */
export function experimentTable(runs: ExperimentRun[], dataset: Dataset, task: string): string {
  const groups = new Map<string, ExperimentRun[]>();
  for (const r of runs) {
    const key = `${r.strategy}|${r.insertion ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const lines = [
    `Task \`${task}\` on ${dataset.meta.numUsers} users; mean ± std over seeds ${[...new Set(runs.map((r) => r.seed))].join(', ')}.`,
    '',
    '| strategy | insertion | accuracy | macro-F1 | AUC | majority | trained params | % of total | patch size | train s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const group of groups.values()) {
    const r0 = group[0]!;
    lines.push(`| ${r0.strategy} | ${r0.insertion ?? '–'} | ${meanStd(group.map((r) => r.test.accuracy))} | ${meanStd(group.map((r) => r.test.macroF1))} | ${meanStd(group.map((r) => r.test.auc ?? NaN))} | ${meanStd(group.map((r) => r.test.majorityAccuracy))} | ${r0.trainedParams.toLocaleString('en-US')} | ${((100 * r0.trainedParams) / r0.totalParams).toFixed(1)}% | ${(r0.patchBytes / 1024).toFixed(1)} KiB | ${(group.reduce((a, r) => a + r.trainSeconds, 0) / group.length).toFixed(1)} |`);
  }
  return lines.join('\n') + '\n';
}
