/** Attribute-prediction metrics as small pure functions over integer labels and class probabilities. */

export function accuracy(predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  let hit = 0;
  for (let i = 0; i < actual.length; i++) if (predicted[i] === actual[i]) hit++;
  return actual.length > 0 ? hit / actual.length : 0;
}

/** Mean over classes of F1 (a class never predicted nor present contributes 0, as scikit-learn does). */
export function macroF1(predicted: ArrayLike<number>, actual: ArrayLike<number>, numClasses: number): number {
  let sum = 0;
  for (let c = 0; c < numClasses; c++) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < actual.length; i++) {
      if (predicted[i] === c && actual[i] === c) tp++;
      else if (predicted[i] === c) fp++;
      else if (actual[i] === c) fn++;
    }
    sum += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  }
  return numClasses > 0 ? sum / numClasses : 0;
}

/** Area under the ROC curve for binary labels (1 = positive), ties counted half (Mann-Whitney U). */
export function binaryAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && scores[order[j]!] === scores[order[i]!]) j++;
    const midRank = (i + j + 1) / 2; // 1-based average rank of the tie group
    for (let k = i; k < j; k++) if (labels[order[k]!] === 1) {
      positives++;
      rankSum += midRank;
    }
    i = j;
  }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Accuracy of always predicting the most frequent class of `train` (ties: the lower class index). */
export function majorityAccuracy(train: ArrayLike<number>, test: ArrayLike<number>, numClasses: number): number {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < train.length; i++) counts[train[i]!]!++;
  const majority = counts.indexOf(Math.max(...counts));
  return accuracy(new Array(test.length).fill(majority), test);
}

/** The most probable class of each row of class probabilities [rows × classes] (ties: the lower class index). */
export function argmaxRows(probs: ArrayLike<number>, classes: number): Int32Array {
  return Int32Array.from({ length: probs.length / classes }, (_, i) => {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c]! > probs[i * classes + best]!) best = c;
    return best;
  });
}

/** Mean negative log-likelihood of the true classes; a probability of 0 counts as 1e-12 so one row stays finite. */
export function logLoss(probs: ArrayLike<number>, labels: Int32Array, classes: number): number {
  let sum = 0;
  labels.forEach((l, i) => (sum -= Math.log(Math.max(probs[i * classes + l]!, 1e-12))));
  return labels.length > 0 ? sum / labels.length : 0;
}

export interface ClassifierScores {
  accuracy: number;
  macroF1: number;
  /** Binary tasks only: area under the ROC curve of the second class's probability. */
  auc?: number;
}

/** Accuracy, macro-F1 and (binary) AUC of class probabilities [rows × classes]. */
export function classifierScores(probs: ArrayLike<number>, labels: Int32Array, classes: number): ClassifierScores {
  const predicted = argmaxRows(probs, classes);
  const scores: ClassifierScores = { accuracy: accuracy(predicted, labels), macroF1: macroF1(predicted, labels, classes) };
  if (classes === 2) scores.auc = binaryAuc(Float64Array.from(labels, (_, i) => probs[i * 2 + 1]!), labels);
  return scores;
}
