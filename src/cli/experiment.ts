import { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKBONES, Backbone, MODEL_DEFAULTS, TRAIN_DEFAULTS } from '../config/schema.js';
import { DataError } from '../errors.js';
import { writeDirAtomic, writeFileAtomic } from '../io/atomic.js';
import { seedsPhrase } from '../eval/summary.js';
import { backend } from '../tensor/index.js';
import { backboneTable, backboneTrainSettings, runBackboneExperiment } from '../train/backbone-experiment.js';
import { loadModelDir } from '../train/checkpoint.js';
import { createProgress } from '../train/progress.js';
import { collectProvenance, provenanceNote } from '../train/provenance.js';
import { baseFingerprint } from '../transfer/patchfile.js';
import { LabelFractionResult, experimentTable, labelFractionTable, runTransferExperiment } from '../transfer/experiment.js';
import { PATCH_INSERTIONS, PatchInsertion, checkInsertion, defaultInsertion } from '../transfer/insertion.js';
import { STRATEGIES, Strategy, strategyUsesPatches } from '../transfer/strategies.js';
import { checkStrategyFor, describeBaselines } from '../transfer/tasks.js';
import { NEXT_ITEM_STRATEGIES } from '../transfer/next-item.js';
import { addContinualExperiment } from './continual-experiment.js';
import { withConfigFile } from './config-file.js';
import { choiceListOption, fractionListOption, integerListOption, integerOption } from './options.js';
import { loadTaskDataset } from '../transfer/task-dataset.js';
import { withCommunicator } from './distributed.js';
import { TaskFlags, taskSpecFromFlags, tuningFromFlags, withFoldsOption, withTaskOptions } from './task-options.js';

interface ExperimentFlags extends TaskFlags {
  model: string;
  data: string;
  task: string;
  strategies?: Strategy[];
  insertions?: PatchInsertion[];
  seeds: number[];
  threads?: number;
  out: string;
  distributed?: boolean;
  labelFractions?: number[];
  folds: number;
}

export function experimentCommand(): Command {
  const experiment = new Command('experiment').description('Experiment grids that reproduce the paper\'s comparisons');
  withConfigFile(withFoldsOption(withTaskOptions(experiment
    .command('transfer')
    .description('Every strategy (× insertion) × seed on one task (classify or recommend): results.json and a Markdown table')
    .requiredOption('--model <dir>', 'pretrained model directory')
    .requiredOption('--data <dir>', 'the task\'s dataset (see graftrec finetune --help)')
    .requiredOption('--task <name>', 'task name')))
    .option('--strategies <list>', `${STRATEGIES.join(',')} (default: every strategy the model's backbone takes)`, choiceListOption('strategies', STRATEGIES))
    .option('--insertions <list>', `${PATCH_INSERTIONS.join(',')} (default: the backbone's default insertion)`, choiceListOption('insertions', PATCH_INSERTIONS))
    .option('--seeds <list>', 'seeds', integerListOption('seeds'), [1, 2, 3])
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .requiredOption('--out <dir>', 'directory for results.json and results.md')
    .option('--distributed', 'every run data-parallel over the ranks of an MPI job, as finetune --distributed; rank 0 writes --out')
    .option('--label-fractions <list>', 'run the grid at each share of labelled training/validation users (e.g. 0.05,0.2,1; the same test users) and add a table with a column per share', fractionListOption('label-fractions'))
    .action(async (f: ExperimentFlags, command: Command) => withCommunicator(f.distributed, async (communicator) => {
      const isRoot = communicator === null || communicator.rank === 0;
      const say = (line: string) => isRoot && process.stderr.write(line);
      if (f.threads) backend().setThreads(f.threads);
      if (f.labelFractions && command.getOptionValueSource('labelFraction') !== 'default') {
        throw new DataError('give --label-fraction or --label-fractions, not both');
      }
      const spec = taskSpecFromFlags(f);
      const base = await loadModelDir(f.model);
      const backbone = base.model.backbone;
      const patchable = defaultInsertion(backbone) !== null;
      const strategies = f.strategies ?? STRATEGIES.filter((s) => (patchable || !strategyUsesPatches(s))
        && (spec.type === 'next-item' ? NEXT_ITEM_STRATEGIES.includes(s) : s !== 'zero-shot'));
      for (const s of strategies) checkStrategyFor(spec, s);
      // Refuse before hours of runs, not when the grid reaches the first patched strategy.
      if (strategies.some(strategyUsesPatches)) checkInsertion(defaultInsertion(backbone), backbone);
      const dataset = await loadTaskDataset(spec, base, f.model, f.data);
      const insertions = f.insertions ?? [defaultInsertion(base.model.backbone)];
      const provenance = await collectProvenance({
        seed: f.seeds, dataset: f.data,
        config: { task: f.task, spec, strategies, insertions, folds: f.folds, ...tuningFromFlags(f), model: f.model, baseFingerprint: await baseFingerprint(f.model) },
      });
      const run = (labelFraction: number) => {
        const share = f.labelFractions ? `f = ${labelFraction}, ` : '';
        return runTransferExperiment({
          spec, task: f.task, dataset, datasetName: f.data, baseItems: base.items, baseConfig: base.config.model, ...tuningFromFlags(f), labelFraction,
          strategies, insertions, folds: f.folds,
          seeds: f.seeds, loadBase: async () => (await loadModelDir(f.model)).model, progress: createProgress(process.stderr, !isRoot),
          communicator: communicator ?? undefined,
          onBaselines: (b) => say(`${share}baselines seed ${b.seed}${b.fold === undefined ? '' : ` fold ${b.fold}`}: ${describeBaselines(b)}\n`),
          onRun: (r) => say(`${share}${r.strategy}${r.insertion ? `/${r.insertion}` : ''} seed ${r.seed}${r.fold === undefined ? '' : ` fold ${r.fold}`}: ${r.headline.name} ${r.headline.value.toFixed(4)} (${r.trainSeconds.toFixed(1)} s)\n`),
        });
      };
      let json: object;
      let table: string;
      if (f.labelFractions) {
        const byLabelFraction: LabelFractionResult[] = [];
        for (const labelFraction of f.labelFractions) byLabelFraction.push({ labelFraction, result: await run(labelFraction) });
        json = { byLabelFraction: byLabelFraction.map((x) => ({ labelFraction: x.labelFraction, ...x.result })) };
        table = `Task \`${f.task}\` (${spec.type}) as labels get scarce: f is the share of the training and validation users whose labels are used; the test users are the same in every column; ${seedsPhrase(f.seeds)}.\n\n`
          + `${labelFractionTable(byLabelFraction, spec)}\n`
          + byLabelFraction.map((x) => `f = ${x.labelFraction}:\n\n${experimentTable(x.result, dataset, f.task, spec)}`).join('\n')
          + `\n${provenanceNote(provenance)}`;
      } else {
        const result = await run(tuningFromFlags(f).labelFraction);
        json = result;
        table = `${experimentTable(result, dataset, f.task, spec)}\n${provenanceNote(provenance)}`;
      }
      if (!isRoot) return;
      await writeDirAtomic(f.out, async (tmp) => {
        await writeFile(join(tmp, 'results.json'), JSON.stringify({ task: f.task, spec, model: f.model, data: f.data, ...json, provenance }, null, 2) + '\n');
        await writeFile(join(tmp, 'results.md'), table);
      });
      process.stdout.write(table);
    })));
  experiment
    .command('backbones')
    .description('Pretrain each backbone with its published defaults on one dataset and compare next-item quality (full ranking and sampled-100), training time, throughput and size')
    .requiredOption('--data <dir>', 'dataset directory from `graftrec ingest` or `graftrec synth`')
    .option('--backbones <list>', 'backbones to compare', choiceListOption('backbones', BACKBONES), [...BACKBONES])
    .option('--seeds <list>', 'seeds (mean ± std over them)', integerListOption('seeds'), [1])
    .option('--epochs <n>', 'maximum epochs per run', integerOption('epochs'), TRAIN_DEFAULTS.epochs)
    .option('--max-len <n>', 'sequence length the models see', integerOption('max-len', 2), MODEL_DEFAULTS.maxLen)
    .option('--patience <n>', 'epochs without validation improvement before a run stops', integerOption('patience'), TRAIN_DEFAULTS.patience)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--out <file>', 'also write the Markdown table to this file')
    .option('--json', 'print the runs as one JSON object instead of the table')
    .option('--quiet', 'no progress output')
    .action(async (f: BackboneFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      // Each backbone runs at its own published shape; the settings they share are recorded in full.
      const provenance = await collectProvenance({
        seed: f.seeds, dataset: f.data, config: { backbones: f.backbones, maxLen: f.maxLen, train: backboneTrainSettings(f) },
      });
      const result = await runBackboneExperiment({
        data: f.data, backbones: f.backbones, seeds: f.seeds, epochs: f.epochs, patience: f.patience, maxLen: f.maxLen,
        progress: createProgress(process.stderr, f.quiet ?? false),
        onRun: f.quiet ? undefined : (r) => process.stderr.write(`${r.backbone} seed ${r.seed}: full NDCG@10 ${r.full['NDCG@10']!.toFixed(4)}, sampled NDCG@10 ${r.sampled['NDCG@10']!.toFixed(4)} (${r.trainSeconds.toFixed(1)} s)\n`),
      });
      const table = `${backboneTable(result, f.data)}\n${provenanceNote(provenance)}`;
      if (f.out) await writeFileAtomic(f.out, table);
      process.stdout.write(f.json ? JSON.stringify({ data: f.data, epochs: f.epochs, patience: f.patience, maxLen: f.maxLen, ...result, provenance }) + '\n' : table);
    });
  addContinualExperiment(experiment);
  return experiment;
}

interface BackboneFlags {
  data: string;
  backbones: Backbone[];
  seeds: number[];
  epochs: number;
  patience: number;
  maxLen: number;
  threads?: number;
  out?: string;
  json?: boolean;
  quiet?: boolean;
}
