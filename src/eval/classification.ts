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
