import { Command } from 'commander';
import { loadModel } from '../api/model.js';
import { loadContinualTasks } from '../api/continual.js';
import { Task, loadPatch, predict } from '../api/task.js';
import { DataError } from '../errors.js';
import { backend } from '../tensor/index.js';
import { HistoryFlags, ITEMS_WORDING, usersFromFlags, withHistoryOptions } from './history.js';
import { integerOption } from './options.js';

interface PredictFlags extends HistoryFlags {
  model: string;
  threads?: number;
  patch?: string;
  continual?: string;
  task?: string;
  k: number;
  json?: boolean;
}

export function predictCommand(): Command {
  return withHistoryOptions(new Command('predict')
    .description('Run a task patch on its base model for a user or a sequence: the label and class probabilities (classify), or the top-k target-domain items (recommend)')
    .requiredOption('--model <dir>', 'the base model the patch was trained on')
    .option('--patch <dir>', 'task patch directory from `graftrec finetune`')
    .option('--continual <dir>', 'or a continual model grown from the base (`graftrec continual`) ...')
    .option('--task <name>', '... and the name of its task to run'))
    .option('--k <n>', 'recommend tasks: how many target items', integerOption('k'), 10)
    .option('--threads <n>', 'kernel threads', integerOption('threads'))
    .option('--json', 'print JSON')
    .action(async (f: PredictFlags) => {
      if (f.threads) backend().setThreads(f.threads);
      const who = usersFromFlags(f);
      if ((f.patch === undefined) === (f.continual === undefined) || (f.continual !== undefined) !== (f.task !== undefined)) {
        throw new DataError('give either --patch DIR, or --continual DIR with --task NAME');
      }
      const base = await loadModel(f.model);
      const task = f.patch !== undefined ? await loadPatch(f.patch, base) : await continualTask(f.continual!, f.task!, base);
      const [answer] = await predict(task, who, { k: f.k }, ITEMS_WORDING);
      if (f.json) console.log(JSON.stringify({ task: task.card.task, ...answer }));
      else if ('label' in answer!) {
        console.log(`${task.card.task}: ${answer.label} (${Object.entries(answer.probabilities).map(([c, p]) => `${c} ${p.toFixed(3)}`).join(', ')})`);
      } else {
        for (const r of answer!.recommendations) console.log(`${r.item}\t${r.score.toFixed(4)}`);
      }
    });
}

async function continualTask(dir: string, name: string, base: Awaited<ReturnType<typeof loadModel>>): Promise<Task> {
  const tasks = await loadContinualTasks(dir, base);
  const task = tasks.find((t) => t.card.task === name);
  if (!task) throw new DataError(`${dir}: no task "${name}" (tasks: ${tasks.map((t) => t.card.task).join(', ') || 'none besides the pretraining task'})`);
  return task;
}
