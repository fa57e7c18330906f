/**
 * Leave-one-out split by time, per user: the last item is the test target, the second-last the validation target,
 * and training sees only what comes before the validation item, so neither held-out item is ever trained on.
 * And the user-level random split of transfer tasks: a user is in exactly one of train / validation / test
 * (unlike the original PeterRec per-example split).
 */
import { DataError } from '../errors.js';
import { Rng } from '../tensor/index.js';
import { Dataset, userSequence } from './dataset.js';

export interface HeldOut {
  /** User indices that have this held-out example. */
  users: Int32Array;
  /** Each user's history before the target (views into the dataset, time order). */
  histories: Int32Array[];
  targets: Int32Array;
}

export interface LeaveOneOutSplit {
  /** Per user, the items training may use (may be empty). */
  train: Int32Array[];
  /** Users with ≥ 3 items: history = all but the last two, target = the second-last. */
  valid: HeldOut;
  /** Users with ≥ 2 items: history = all but the last, target = the last. */
  test: HeldOut;
}

function heldOut(ds: Dataset, dropLast: number, minLength: number): HeldOut {
  const users: number[] = [];
  const histories: Int32Array[] = [];
  const targets: number[] = [];
  for (let u = 0; u < ds.meta.numUsers; u++) {
    const s = userSequence(ds, u);
    if (s.length < minLength) continue;
    const end = s.length - dropLast;
    users.push(u);
    histories.push(s.subarray(0, end - 1));
    targets.push(s[end - 1]!);
  }
  return { users: Int32Array.from(users), histories, targets: Int32Array.from(targets) };
}

export function leaveOneOutSplit(ds: Dataset): LeaveOneOutSplit {
  const train: Int32Array[] = [];
  for (let u = 0; u < ds.meta.numUsers; u++) {
    const s = userSequence(ds, u);
    train.push(s.subarray(0, Math.max(0, s.length - 2)));
  }
  return { train, valid: heldOut(ds, 1, 3), test: heldOut(ds, 0, 2) };
}

/** How often each item occurs in the training part (index 0 unused): the popularity baseline and the sampler. */
export function itemCounts(train: readonly Int32Array[], numItems: number): Float64Array {
  const counts = new Float64Array(numItems + 1);
  for (const s of train) for (const v of s) counts[v]!++;
  return counts;
}

export interface UserSplit {
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
}

/** Which of the non-test users validate: fold `index` of `count` equal folds (the others train). */
export interface ValidationFold {
  index: number;
  count: number;
}

/** The usual split: the first of ten folds, i.e. 10% of the non-test users validate. */
export const DEFAULT_FOLD: ValidationFold = { index: 0, count: 10 };

/**
 * The validation folds a run goes through: [undefined] (the usual split) for 1, else folds 0…count − 1 of
 * `count`, each validating in turn (cross-validation over the same test users).
 */
export function validationFolds(count: number): (ValidationFold | undefined)[] {
  return count === 1 ? [undefined] : Array.from({ length: count }, (_, index) => ({ index, count }));
}

/** What a run records of its fold: the fold's index under cross-validation, nothing with the usual split. */
export function foldTag(fold: ValidationFold | undefined): { fold?: number } {
  return fold ? { fold: fold.index } : {};
}

/**
 * Shuffles the labelled users (label ≥ 0) with `seed`; testFraction of them are test users, and of the rest fold
 * `fold.index` of `fold.count` validates and the others train. The test users do not depend on the fold, so the
 * folds of one seed cross-validate over the same test users; the default fold is 10% of the rest.
 */
export function splitUsers(labels: Int32Array, testFraction: number, seed: number, fold: ValidationFold = DEFAULT_FOLD): UserSplit {
  if (!(Number.isInteger(fold.count) && fold.count >= 2 && Number.isInteger(fold.index) && fold.index >= 0 && fold.index < fold.count)) {
    throw new DataError(`validation fold ${fold.index} of ${fold.count}: need 2 or more folds and a fold index below their number`);
  }
  const users = new Rng(seed).shuffle(Int32Array.from(Array.from(labels.keys()).filter((u) => labels[u]! >= 0)));
  const nTest = Math.max(1, Math.round(users.length * testFraction));
  const rest = users.subarray(nTest);
  const start = Math.round((rest.length * fold.index) / fold.count);
  const end = Math.max(start + 1, Math.round((rest.length * (fold.index + 1)) / fold.count));
  if (rest.length - (end - start) < 1) throw new DataError(`only ${users.length} labelled users: too few to split into train, validation and test`);
  const train = new Int32Array(rest.length - (end - start));
  train.set(rest.subarray(0, start));
  train.set(rest.subarray(end), start);
  return { test: users.subarray(0, nTest), valid: rest.subarray(start, end), train };
}

/**
 * Fewer labels: keeps the first `fraction` of the (already shuffled) training and validation users, at least one
 * validation and two training users; the test users stay as they are, so results at different fractions compare.
 */
export function labelledSubset(split: UserSplit, fraction: number): UserSplit {
  if (!(fraction > 0 && fraction <= 1)) throw new DataError(`--label-fraction must be in (0, 1], got ${fraction}`);
  if (fraction === 1) return split;
  const train = split.train.subarray(0, Math.round(split.train.length * fraction));
  const valid = split.valid.subarray(0, Math.max(1, Math.round(split.valid.length * fraction)));
  if (train.length < 2) {
    throw new DataError(`--label-fraction ${fraction} leaves ${train.length} labelled training user${train.length === 1 ? '' : 's'} of ${split.train.length}; need at least 2`);
  }
  return { train, valid, test: split.test };
}
