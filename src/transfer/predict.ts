/**
 * Answers of a loaded task for a batch of histories (base-model item indices): a label with class probabilities
 * (classify), or the top-k target items with scores (recommend). Used by `graftrec predict` and the server.
 */
import { topKIndices } from '../eval/topk.js';
import { argmaxRows } from '../eval/classification.js';
import { predictProbabilities } from './classify.js';
import { encodeHistories, forEachScoreRow } from '../models/encoder.js';
import { backend } from '../tensor/index.js';
import { AnyTask, NextItemTask } from './patchfile.js';
import { forEachTargetScoreRow } from './recommend.js';

export type TaskAnswer =
  | { label: string; probabilities: Record<string, number> }
  | { recommendations: { item: string; score: number }[] };

export function predictTask(task: AnyTask, histories: readonly Int32Array[], options: { k: number }): TaskAnswer[] {
  if (task.head === null) return nextItems(task, histories, options.k);
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

/**
 * A next-item task's top-k items of its own catalogue (histories in its item indices): the network's scores plus
 * the task's prior, as its test evaluation ranked them (evaluateNextItem; the history is not masked there either).
 */
function nextItems(task: NextItemTask, histories: readonly Int32Array[], k: number): TaskAnswer[] {
  const { model, prior, card } = task;
  const answers: TaskAnswer[] = [];
  forEachScoreRow(model, encodeHistories(model, histories), (_, scores) => {
    if (prior) backend().axpy(scores, 1, prior);
    const top = topKIndices(scores, k, 1, card.targetItems.length + 1);
    answers.push({ recommendations: Array.from(top, (v) => ({ item: card.targetItems[v - 1]!, score: scores[v]! })) });
  });
  return answers;
}
