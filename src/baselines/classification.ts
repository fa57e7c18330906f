/**
 * The comparison rows of an attribute-prediction result, on the same train / validation / test users as the
 * transferred model: the majority class of the training users, and a multinomial logistic regression on the
 * bag of items of each user's whole history. The regression's L2 strength and item weighting (binary or tf-idf)
 * are chosen on the validation users (lowest mean log-loss; it varies smoothly where accuracy on a few hundred
 * users ties), then the model fit on the training users alone is scored on the test users.
 */
import { Dataset, userSequence } from '../data/dataset.js';
import { UserSplit } from '../data/split.js';
import { ClassifierScores, accuracy, argmaxRows, classifierScores, logLoss } from '../eval/classification.js';
import { ITEM_WEIGHTINGS, ItemWeighting, bagOfItems, inverseDocumentFrequency, itemColumns } from './bag-of-items.js';
import { LogisticRegression, logisticProbabilities, trainLogisticRegression } from './logistic-regression.js';

export interface ClassificationBaselines {
  majority: ClassifierScores;
  logisticRegression: ClassifierScores & { l2: number; weighting: ItemWeighting; validation: { accuracy: number; logLoss: number } };
}

/**
 * L2 strengths tried, as l2 × training users (scikit-learn's 1/C, so the grid means the same at any data size),
 * strongest first so each fit warm-starts the next.
 */
export const PENALTY_GRID = [100, 30, 10, 3, 1, 0.3, 0.1, 0.03];
/** Stop going down the grid once validation log-loss has not improved for this many strengths in a row. */
const PATIENCE = 2;
/** Looser than the optimiser's default: predictions stop changing long before the gradient reaches 1e-6. */
const LBFGS = { gradientTolerance: 1e-5, relativeDecrease: 1e-9 };

/** Always the most frequent training class (ties: the lower class index), as probabilities. */
function majorityProbabilities(train: Int32Array, users: number, classes: number): Float64Array {
  const counts = new Array<number>(classes).fill(0);
  for (const y of train) counts[y]!++;
  const majority = counts.indexOf(Math.max(...counts));
  const probs = new Float64Array(users * classes);
  for (let i = 0; i < users; i++) probs[i * classes + majority] = 1;
  return probs;
}

/**
 * Majority and bag-of-items logistic regression on the test users of `split`; `labels[u]` is user u's class
 * (users outside the split are ignored). Deterministic: the fits are full-batch and start from zero.
 */
export function classificationBaselines(dataset: Dataset, labels: Int32Array, split: UserSplit, classes: number): ClassificationBaselines {
  const labelsOf = (users: Int32Array) => Int32Array.from(users, (u) => labels[u]!);
  const historiesOf = (users: Int32Array) => Array.from(users, (u) => userSequence(dataset, u));
  const [trainY, validY, testY] = [labelsOf(split.train), labelsOf(split.valid), labelsOf(split.test)];
  const vocabulary = dataset.meta.numItems + 1;
  const trainHistories = historiesOf(split.train);
  const items = itemColumns(trainHistories, vocabulary);

  let best: { loss: number; accuracy: number; l2: number; weighting: ItemWeighting; model: LogisticRegression; idf: Float64Array | null } | null = null;
  for (const weighting of ITEM_WEIGHTINGS) {
    const idf = weighting === 'tfidf' ? inverseDocumentFrequency(trainHistories, vocabulary) : null;
    const [trainX, validX] = [bagOfItems(trainHistories, items, idf), bagOfItems(historiesOf(split.valid), items, idf)];
    let model: LogisticRegression | null = null;
    let bestHere = Infinity;
    let stale = 0;
    for (const penalty of PENALTY_GRID) {
      const l2 = penalty / trainY.length;
      model = trainLogisticRegression(trainX, trainY, classes, l2, model, LBFGS);
      const validProbs = logisticProbabilities(model, validX);
      const loss = logLoss(validProbs, validY, classes);
      if (!best || loss < best.loss) best = { loss, accuracy: accuracy(argmaxRows(validProbs, classes), validY), l2, weighting, model, idf };
      stale = loss < bestHere ? 0 : stale + 1;
      bestHere = Math.min(bestHere, loss);
      if (stale >= PATIENCE) break;
    }
  }
  const chosen = best!;
  const testX = bagOfItems(historiesOf(split.test), items, chosen.idf);
  return {
    majority: classifierScores(majorityProbabilities(trainY, testY.length, classes), testY, classes),
    logisticRegression: {
      ...classifierScores(logisticProbabilities(chosen.model, testX), testY, classes),
      l2: chosen.l2,
      weighting: chosen.weighting,
      validation: { accuracy: chosen.accuracy, logLoss: chosen.loss },
    },
  };
}
