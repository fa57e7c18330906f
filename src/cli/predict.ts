import { Command } from 'commander';
import { backend } from '../tensor/index.js';
import { DataError } from '../errors.js';
import { loadModelDir } from '../train/checkpoint.js';
import { baseFingerprint, loadPatchDir } from '../transfer/patchfile.js';
import { predictTask } from '../transfer/predict.js';
import { HistoryFlags, resolveHistory, withHistoryOptions } from './history.js';
import { integerOption } from './options.js';

interface PredictFlags extends HistoryFlags {
  model: string;
  threads?: number;
  patch: string;
  k: number;
  json?: boolean;
}

export function predictCommand(): Command {
  return withHistoryOptions(new Command('predict')
    .description('Run a task patch on its base model for a user or a sequence: the label and class probabilities (classify), or the top-k target-domain items (recommend)')
    .requiredOption('--model <dir>', 'the base model the patch was trained on')
    .requiredOption('--patch <dir>', 'task patch directory from `graftrec finetune`'))
    .option('--k <n>', 'recommend tasks: how many target items', integerOption('k'), 10)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--json', 'print JSON')
    .action(async (f: PredictFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      const base = await loadModelDir(f.model);
      const task = await loadPatchDir(f.patch, base, await baseFingerprint(f.model));
      const sourceDomain = task.card.type === 'recommend' ? task.card.sourceDomain : null;
      const history = await resolveHistory(f, base, f.model, sourceDomain);
      if (history.length === 0) throw new DataError(`user "${f.user}" has no ${sourceDomain} items the model knows`);
      const [answer] = predictTask(task, [history], { k: f.k });
      if (f.json) console.log(JSON.stringify({ task: task.card.task, ...answer }));
      else if ('label' in answer!) {
        console.log(`${task.card.task}: ${answer.label} (${Object.entries(answer.probabilities).map(([c, p]) => `${c} ${p.toFixed(3)}`).join(', ')})`);
      } else {
        for (const r of answer!.recommendations) console.log(`${r.item}\t${r.score.toFixed(4)}`);
      }
    });
}
