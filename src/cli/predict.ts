import { Command } from 'commander';
import { loadModel } from '../api/model.js';
import { loadPatch, predict } from '../api/task.js';
import { backend } from '../tensor/index.js';
import { HistoryFlags, ITEMS_WORDING, usersFromFlags, withHistoryOptions } from './history.js';
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
      const who = usersFromFlags(f);
      const task = await loadPatch(f.patch, await loadModel(f.model));
      const [answer] = await predict(task, who, { k: f.k }, ITEMS_WORDING);
      if (f.json) console.log(JSON.stringify({ task: task.card.task, ...answer }));
      else if ('label' in answer!) {
        console.log(`${task.card.task}: ${answer.label} (${Object.entries(answer.probabilities).map(([c, p]) => `${c} ${p.toFixed(3)}`).join(', ')})`);
      } else {
        for (const r of answer!.recommendations) console.log(`${r.item}\t${r.score.toFixed(4)}`);
      }
    });
}
