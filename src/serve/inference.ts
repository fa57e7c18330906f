/**
 * Batched answers for the server: each function takes the inputs of many requests for one network and runs
 * them through it in one pass (the micro-batcher decides what goes together).
 */
import { topKIndices } from '../eval/topk.js';
import { UserEncoder, encodeHistories, forEachScoreRow } from '../models/encoder.js';
import { LoadedModel } from '../train/checkpoint.js';
import { TaskHead } from '../transfer/head.js';
import { AnyTask } from '../transfer/patchfile.js';
import { TaskAnswer, predictTask } from '../transfer/predict.js';

export interface ScoredItem {
  item: string;
  score: number;
}

export interface RecommendInput {
  history: Int32Array;
  k: number;
  excludeSeen: boolean;
}

/** Next items from the base model's own softmax over its vocabulary. */
export function recommendNextItems(base: LoadedModel, inputs: readonly RecommendInput[]): ScoredItem[][] {
  const out: ScoredItem[][] = [];
  const numItems = base.config.model.numItems;
  forEachScoreRow(base.model, encodeHistories(base.model, inputs.map((i) => i.history)), (row, scores) => {
    const { history, k, excludeSeen } = inputs[row]!;
    const seen = excludeSeen ? new Set(history) : null;
    const top = topKIndices(scores, k, 1, numItems + 1, seen ? (v) => !seen.has(v) : undefined);
    out.push(Array.from(top, (v) => ({ item: base.items[v - 1]!, score: scores[v]! })));
  });
  return out;
}

/** A task's answers (label + probabilities, or top-k target items), each request with its own k. */
export function answerTask(task: AnyTask, inputs: readonly { history: Int32Array; k: number }[]): TaskAnswer[] {
  const k = Math.max(...inputs.map((i) => i.k));
  return predictTask(task, inputs.map((i) => i.history), { k }).map((a, b) => ('recommendations' in a
    ? { recommendations: a.recommendations.slice(0, inputs[b]!.k) }
    : a));
}

/** User vectors of the network: the base's last position, or a task's reading (pooling) of its patched network. */
export function embedUsers(model: UserEncoder, histories: readonly Int32Array[], head: TaskHead | null = null): number[][] {
  const dim = model.config.dim;
  const vectors = head ? head.encode(model, histories) : encodeHistories(model, histories);
  return histories.map((_, b) => Array.from(vectors.subarray(b * dim, (b + 1) * dim)));
}
