/**
 * Answers of a loaded task for a batch of histories (base-model item indices): a label with class probabilities
 * (classify), or the top-k target items with scores (recommend). Used by `graftrec predict` and the server.
 */
import { topKIndices } from '../eval/topk.js';
import { argmaxRows } from '../eval/classification.js';
import { predictProbabilities } from './classify.js';
import { TaskModel } from './patchfile.js';
import { forEachTargetScoreRow } from './recommend.js';

export type TaskAnswer =
  | { label: string; probabilities: Record<string, number> }
  | { recommendations: { item: string; score: number }[] };

export function predictTask(task: TaskModel, histories: readonly Int32Array[], options: { k: number }): TaskAnswer[] {
  const { card, model, head } = task;
  if (card.type === 'classify') {
    const C = card.classes.length;
    const probs = predictProbabilities(model, head, histories);
    const best = argmaxRows(probs, C);
    return histories.map((_, b) => ({
      label: card.classes[best[b]!]!,
      probabilities: Object.fromEntries(card.classes.map((c, i) => [c, probs[b * C + i]!])),
    }));
  }
  const answers: TaskAnswer[] = [];
  forEachTargetScoreRow(model, head, histories, (_, scores) => {
    const top = topKIndices(scores, options.k, 0, scores.length);
    answers.push({ recommendations: Array.from(top, (t) => ({ item: card.targetItems[t]!, score: scores[t]! })) });
  });
  return answers;
}
