import { Command } from 'commander';
import { loadModelDir } from '../train/checkpoint.js';
import { argmaxRows, predictProbabilities } from '../transfer/classify.js';
import { applyPatchDir } from '../transfer/patchfile.js';
import { HistoryFlags, resolveHistory, withHistoryOptions } from './history.js';

interface PredictFlags extends HistoryFlags {
  model: string;
  patch: string;
  json?: boolean;
}

export function predictCommand(): Command {
  return withHistoryOptions(new Command('predict')
    .description('Predict with a task patch on its base model: the label and class probabilities for a user or a sequence')
    .requiredOption('--model <dir>', 'the base model the patch was trained on')
    .requiredOption('--patch <dir>', 'task patch directory from `graftrec finetune`'))
    .option('--json', 'print JSON')
    .action(async (f: PredictFlags) => {
      const base = await loadModelDir(f.model);
      const { card, head } = await applyPatchDir(f.patch, base, f.model);
      const history = await resolveHistory(f, base, f.model);
      const probs = predictProbabilities(base.model, head, [history], card.classes.length);
      const label = card.classes[argmaxRows(probs, card.classes.length)[0]!]!;
      const probabilities = Object.fromEntries(card.classes.map((c, i) => [c, probs[i]!]));
      if (f.json) console.log(JSON.stringify({ task: card.task, label, probabilities }));
      else console.log(`${card.task}: ${label} (${card.classes.map((c, i) => `${c} ${probs[i]!.toFixed(3)}`).join(', ')})`);
    });
}
