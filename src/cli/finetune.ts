import { Command } from 'commander';
import { runFinetune } from '../api/task.js';
import { backend } from '../tensor/index.js';
import { createProgress } from '../train/progress.js';
import { PATCH_INSERTIONS, PatchInsertion } from '../transfer/insertion.js';
import { STRATEGIES, Strategy } from '../transfer/strategies.js';
import { ValidationVerdict } from '../transfer/patchfile.js';
import { TaskBaselines, TaskResult, describeBaselines, describeVerdict, headline } from '../transfer/tasks.js';
import { withConfigFile } from './config-file.js';
import { withCommunicator } from './distributed.js';
import { choiceOption, integerOption } from './options.js';
import { TaskFlags, taskSpecFromFlags, tuningFromFlags, withTaskOptions } from './task-options.js';

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
  distributed?: boolean;
}

function describe(r: TaskResult, baselines: TaskBaselines, verdict: ValidationVerdict, out: string): string {
  const closing = `${describeVerdict(verdict)}; trained ${r.trainedParams} of ${r.totalParams} parameters; patch written to ${out} (${r.patchBytes} bytes)`;
  if (r.type === 'classify') {
    const t = r.test;
    return `${r.task} (${r.strategy}): test accuracy ${t.accuracy.toFixed(4)}, macro-F1 ${t.macroF1.toFixed(4)}${t.auc !== undefined ? `, AUC ${t.auc.toFixed(4)}` : ''}; ` +
      `baselines: ${describeBaselines(baselines)}; ${closing}`;
  }
  if (r.type === 'next-item') {
    const t = r.test;
    return `${r.task} (${r.strategy}): ${t.users} test users over ${t.items} items: HR@10 ${Number(t['HR@10']).toFixed(4)} NDCG@10 ` +
      `${headline(r).value.toFixed(4)}; ${t.coldItems.queries} test targets never seen in training: HR@10 ${Number(t.coldItems['HR@10'] ?? 0).toFixed(4)}; ` +
      `baselines: ${describeBaselines(baselines)}; ${closing}`;
  }
  const t = r.test;
  return `${r.task} (${r.strategy}): ${t.queries} test queries of ${t.users} cold-start users over ${t.targetItems} target items: ` +
    `HR@10 ${Number(t['HR@10']).toFixed(4)} NDCG@10 ${headline(r).value.toFixed(4)}; baselines: ${describeBaselines(baselines)}; ${closing}`;
}

export function finetuneCommand(): Command {
  return withConfigFile(withTaskOptions(new Command('finetune')
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
    .option('--distributed', 'data-parallel fine-tuning over the ranks of an MPI job (`mpirun -np N graftrec finetune … --distributed`): each rank trains on its share of every batch of --batch users (windows for next-item); rank 0 writes the patch (see the README)')
    .action(async (f: FinetuneFlags) => withCommunicator(f.distributed, async (communicator) => {
      const isRoot = communicator === null || communicator.rank === 0;
      if (f.threads) backend().setThreads(f.threads);
      const { summary, result, baselines } = await runFinetune({
        spec: taskSpecFromFlags(f), model: f.model, data: f.data, task: f.task, out: f.out, force: f.force ?? false,
        strategy: f.strategy, insertion: f.insertion, patchDim: f.patchDim, zeroInitUp: f.zeroInitUp, seed: f.seed,
        tuning: tuningFromFlags(f), progress: createProgress(process.stderr, (f.quiet ?? false) || !isRoot),
        communicator: communicator ?? undefined,
      });
      if (!isRoot) return;
      if (f.json) console.log(JSON.stringify(summary));
      else console.log(describe(result, baselines, summary.verdict, f.out));
    })));
}
