import { existsSync, readdirSync } from 'node:fs';
import { Command } from 'commander';
import { DataError } from '../errors.js';
import { createEncoder, itemSideOf } from '../models/encoders.js';
import { Rng, backend } from '../tensor/index.js';
import { loadModelDir } from '../train/checkpoint.js';
import { createProgress } from '../train/progress.js';
import { PATCH_INSERTIONS, PatchInsertion, defaultInsertion } from '../transfer/insertion.js';
import { baseFingerprint, writePatchDir } from '../transfer/patchfile.js';
import { STRATEGIES, Strategy, defaultLearningRate, strategyUsesPretraining } from '../transfer/strategies.js';
import { TaskBaselines, TaskResult, checkStrategyFor, describeBaselines, headline, runTask, runTaskBaselines, taskCardFor } from '../transfer/tasks.js';
import { choiceOption, integerOption } from './options.js';
import { TaskFlags, loadTaskDataset, taskSpecFromFlags, tuningFromFlags, withTaskOptions } from './task-options.js';

interface FinetuneFlags extends TaskFlags {
  model: string;
  data: string;
  task: string;
  strategy: Strategy;
  insertion?: PatchInsertion;
  patchDim?: number;
  zeroInitUp?: boolean;
  seed: number;
  threads?: number;
  out: string;
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
}

function describe(r: TaskResult, baselines: TaskBaselines, out: string): string {
  const trained = `trained ${r.trainedParams} of ${r.totalParams} parameters; patch written to ${out} (${r.patchBytes} bytes)`;
  if (r.type === 'classify') {
    const t = r.test;
    return `${r.task} (${r.strategy}): test accuracy ${t.accuracy.toFixed(4)}, macro-F1 ${t.macroF1.toFixed(4)}${t.auc !== undefined ? `, AUC ${t.auc.toFixed(4)}` : ''}; ` +
      `baselines: ${describeBaselines(baselines)}; ${trained}`;
  }
  if (r.type === 'next-item') {
    const t = r.test;
    return `${r.task} (${r.strategy}): ${t.users} test users over ${t.items} items: HR@10 ${Number(t['HR@10']).toFixed(4)} NDCG@10 ` +
      `${headline(r).value.toFixed(4)}; ${t.coldItems.queries} test targets never seen in training: HR@10 ${Number(t.coldItems['HR@10'] ?? 0).toFixed(4)}; ` +
      `baselines: ${describeBaselines(baselines)}; ${trained}`;
  }
  const t = r.test;
  return `${r.task} (${r.strategy}): ${t.queries} test queries of ${t.users} cold-start users over ${t.targetItems} target items: ` +
    `HR@10 ${Number(t['HR@10']).toFixed(4)} NDCG@10 ${headline(r).value.toFixed(4)}; baselines: ${describeBaselines(baselines)}; ${trained}`;
}

export function finetuneCommand(): Command {
  return withTaskOptions(new Command('finetune')
    .description('Adapt a pretrained model to a downstream task (PeterRec model patches or a fine-tuning baseline) and save the task as a patch directory')
    .requiredOption('--model <dir>', 'pretrained model directory')
    .requiredOption('--data <dir>', 'dataset: for classify with the label attached at ingest and the model\'s vocabulary; for recommend with a domain column; for next-item another platform\'s log with item text')
    .requiredOption('--task <name>', 'task name (stored in the task card)'))
    .option('--strategy <name>', STRATEGIES.join(' | '), choiceOption('strategy', STRATEGIES), 'peterrec')
    .option('--insertion <where>', `where patches go: ${PATCH_INSERTIONS.join(' | ')} (default: serial-each-conv for nextitnet, serial-each-sublayer for sasrec)`, choiceOption('insertion', PATCH_INSERTIONS))
    .option('--patch-dim <n>', 'patch bottleneck channels (default C/4)', integerOption('patch-dim'))
    .option('--zero-init-up', 'start each patch as the identity (up-projection zero)')
    .option('--seed <n>', 'random seed', integerOption('seed', 0), 1)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .requiredOption('--out <dir>', 'patch directory to write (patch.safetensors + task.json); an existing one only with --force')
    .option('--force', 'replace an existing patch directory at --out')
    .option('--json', 'print the result as one JSON object')
    .option('--quiet', 'no progress output')
    .action(async (f: FinetuneFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      const spec = taskSpecFromFlags(f);
      checkStrategyFor(spec, f.strategy);
      // A patch is a trained artefact: like pretrain, refuse to replace one unless asked (before any training).
      if (!f.force && existsSync(f.out) && readdirSync(f.out).length > 0) {
        throw new DataError(`${f.out}: already exists and is not empty; pass --force to replace it or choose another --out`);
      }
      const base = await loadModelDir(f.model);
      const dataset = await loadTaskDataset(spec, base, f.model, f.data);
      const model = strategyUsesPretraining(f.strategy) ? base.model : createEncoder(base.config.model, new Rng(f.seed), itemSideOf(base.model));
      const data = { task: f.task, dataset, datasetName: f.data, baseItems: base.items, baseConfig: base.config.model };
      const result = runTask(spec, data, {
        model, strategy: f.strategy, insertion: f.insertion ?? defaultInsertion(model.backbone), patchDim: f.patchDim, zeroInitUp: f.zeroInitUp,
        ...tuningFromFlags(f), lr: f.lr ?? defaultLearningRate(f.strategy, spec.type), seed: f.seed, progress: createProgress(process.stderr, f.quiet ?? false),
      });
      const baselines = runTaskBaselines(spec, data, { ...tuningFromFlags(f), lr: f.lr, seed: f.seed });
      await writePatchDir(f.out, taskCardFor(spec, result, await baseFingerprint(f.model), f.patchDim ?? null), result);
      const summary = {
        task: f.task, type: spec.type, strategy: f.strategy, insertion: result.insertion, trainedParams: result.trainedParams,
        totalParams: result.totalParams, patchBytes: result.patchBytes, epochs: result.epochs, bestEpoch: result.bestEpoch,
        validationScore: result.validationScore, trainSeconds: result.trainSeconds,
        ...(result.type === 'classify' ? { validation: result.validation } : {}), test: result.test, baselines,
      };
      if (f.json) console.log(JSON.stringify(summary));
      else console.log(describe(result, baselines, f.out));
    });
}
