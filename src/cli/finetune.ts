import { Command } from 'commander';
import { NextItNet } from '../models/nextitnet.js';
import { Rng, backend } from '../tensor/index.js';
import { loadDatasetFor, loadModelDir } from '../train/checkpoint.js';
import { ClassifyOptions, finetuneClassifier } from '../transfer/classify.js';
import { PATCH_INSERTIONS } from '../transfer/insertion.js';
import { PATCH_FORMAT, baseFingerprint, writePatchDir } from '../transfer/patchfile.js';
import { STRATEGIES, strategyUsesPretraining } from '../transfer/strategies.js';
import { choiceOption, integerListOption, integerOption, numberOption } from './options.js';

type TrainingFlags = Pick<ClassifyOptions, 'label' | 'strategy' | 'insertion' | 'patchDim' | 'zeroInitUp' | 'epochs' |
  'batch' | 'lr' | 'patience' | 'testFraction' | 'seed'>;

interface FinetuneFlags extends TrainingFlags {
  model: string;
  data: string;
  task: string;
  type: 'classify';
  bins?: number[];
  threads?: number;
  out: string;
  json?: boolean;
}

export function finetuneCommand(): Command {
  return new Command('finetune')
    .description('Adapt a pretrained model to a downstream task (PeterRec model patches or a fine-tuning baseline) and save the task as a patch directory')
    .requiredOption('--model <dir>', 'pretrained model directory')
    .requiredOption('--data <dir>', 'dataset (same item vocabulary as the model) with the label attached at ingest')
    .requiredOption('--task <name>', 'task name (stored in the task card)')
    .option('--type <type>', 'classify: predict a user attribute (cross-domain recommend is not available yet)', choiceOption('type', ['classify'] as const), 'classify')
    .requiredOption('--label <column>', 'attribute column to predict')
    .option('--bins <edges>', 'bucket a numeric attribute at these edges, e.g. 18,25,35,45,50,56', integerListOption('bins'))
    .option('--strategy <name>', STRATEGIES.join(' | '), choiceOption('strategy', STRATEGIES), 'peterrec')
    .option('--insertion <where>', PATCH_INSERTIONS.join(' | '), choiceOption('insertion', PATCH_INSERTIONS), 'serial-each-conv')
    .option('--patch-dim <n>', 'patch bottleneck channels (default C/4)', integerOption('patch-dim'))
    .option('--zero-init-up', 'start each patch as the identity (up-projection zero)')
    .option('--epochs <n>', 'maximum epochs', integerOption('epochs'), 20)
    .option('--batch <n>', 'users per batch', integerOption('batch'), 64)
    .option('--lr <x>', 'Adam learning rate', numberOption('lr', { min: 0, exclusiveMin: true }), 1e-3)
    .option('--patience <n>', 'epochs without validation improvement before stopping', integerOption('patience'), 3)
    .option('--test-fraction <x>', 'fraction of labelled users held out for testing', numberOption('test-fraction', { min: 0, max: 0.9, exclusiveMin: true }), 0.2)
    .option('--seed <n>', 'random seed', integerOption('seed', 0), 1)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .requiredOption('--out <dir>', 'patch directory to write (patch.safetensors + task.json)')
    .option('--json', 'print the result as one JSON object')
    .action(async (f: FinetuneFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      const base = await loadModelDir(f.model);
      const dataset = await loadDatasetFor(base.config, f.model, f.data);
      const model = strategyUsesPretraining(f.strategy) ? base.model : new NextItNet(base.config.model, new Rng(f.seed));
      const result = finetuneClassifier({
        model, dataset, datasetName: f.data, label: f.label, bins: f.bins ?? null, strategy: f.strategy,
        insertion: f.insertion, patchDim: f.patchDim, zeroInitUp: f.zeroInitUp, epochs: f.epochs, batch: f.batch,
        lr: f.lr, patience: f.patience, testFraction: f.testFraction, seed: f.seed,
      });
      await writePatchDir(f.out, {
        format: PATCH_FORMAT, version: 1, task: f.task, type: 'classify', label: f.label, classes: result.classes,
        bins: f.bins ?? null, strategy: f.strategy, insertion: result.insertion, patchDim: f.patchDim ?? null,
        baseFingerprint: await baseFingerprint(f.model), trainedParams: result.trainedParams,
        totalParams: result.totalParams, test: result.test,
      }, result);
      const summary = {
        task: f.task, strategy: f.strategy, insertion: result.insertion, trainedParams: result.trainedParams,
        totalParams: result.totalParams, patchBytes: result.patchBytes, epochs: result.epochs, test: result.test,
      };
      if (f.json) console.log(JSON.stringify(summary));
      else console.log(`${f.task} (${f.strategy}): test accuracy ${result.test.accuracy.toFixed(4)} (majority ${result.test.majorityAccuracy.toFixed(4)}), macro-F1 ${result.test.macroF1.toFixed(4)}${result.test.auc !== undefined ? `, AUC ${result.test.auc.toFixed(4)}` : ''}; trained ${result.trainedParams} of ${result.totalParams} parameters; patch written to ${f.out} (${result.patchBytes} bytes)`);
    });
}
