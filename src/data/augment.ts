/**
 * Sequence augmentations for contrastive pretraining (CL4SRec / CLUE): each view of a user's sequence is made by
 * one augmentation drawn at random from those switched on, with the run's seeded Rng.
 *
 *   crop     keep a random contiguous sub-sequence of ⌊η·n⌋ items (at least 1)
 *   mask     drop ⌊γ·n⌋ items at random positions (at least 1 item stays). Items are dropped rather than replaced
 *            by a mask token: the causal network has no mask token, and a dropped item leaves no padding inside
 *            the sequence, so the view reads like any shorter history
 *   reorder  shuffle a random contiguous sub-sequence of ⌊β·n⌋ items
 */
import { DataError } from '../errors.js';
import { Rng } from '../tensor/index.js';

export interface AugmentationRates {
  /** η in (0, 1]: share of the sequence a crop keeps; 1 = crop off. */
  crop: number;
  /** γ in [0, 1): share of the items a mask drops; 0 = mask off. */
  maskRate: number;
  /** β in [0, 1]: share of the sequence a reorder shuffles; 0 = reorder off. */
  reorder: number;
}

type Augmentation = (items: Int32Array, rate: number, rng: Rng) => Int32Array;

function crop(items: Int32Array, eta: number, rng: Rng): Int32Array {
  const keep = Math.max(1, Math.floor(eta * items.length));
  const start = rng.int(0, items.length - keep + 1);
  return items.slice(start, start + keep);
}

/** `count` distinct positions of 0..n-1 drawn by a partial Fisher–Yates shuffle, as a 0/1 flag per position. */
export function pickPositions(n: number, count: number, rng: Rng): Uint8Array {
  const positions = Int32Array.from({ length: n }, (_, i) => i);
  const picked = new Uint8Array(n);
  for (let i = 0; i < count; i++) {
    const j = rng.int(i, n);
    const p = positions[j]!;
    positions[j] = positions[i]!;
    positions[i] = p;
    picked[p] = 1;
  }
  return picked;
}

function mask(items: Int32Array, gamma: number, rng: Rng): Int32Array {
  const dropped = pickPositions(items.length, Math.min(items.length - 1, Math.floor(gamma * items.length)), rng);
  return items.filter((_, i) => dropped[i] === 0);
}

function reorder(items: Int32Array, beta: number, rng: Rng): Int32Array {
  const out = items.slice();
  const span = Math.floor(beta * items.length);
  if (span < 2) return out;
  const start = rng.int(0, items.length - span + 1);
  rng.shuffle(out.subarray(start, start + span));
  return out;
}

export function checkAugmentationRates(rates: AugmentationRates): void {
  if (!(rates.crop > 0 && rates.crop <= 1)) throw new DataError(`crop must be in (0, 1] (share of the sequence kept), got ${rates.crop}`);
  if (!(rates.maskRate >= 0 && rates.maskRate < 1)) throw new DataError(`mask rate must be in [0, 1) (share of items dropped), got ${rates.maskRate}`);
  if (!(rates.reorder >= 0 && rates.reorder <= 1)) throw new DataError(`reorder must be in [0, 1] (share of the sequence shuffled), got ${rates.reorder}`);
}

/** The augmentations switched on by these rates, each with its rate. */
function enabled(rates: AugmentationRates): [Augmentation, number][] {
  const on: [Augmentation, number][] = [];
  if (rates.crop < 1) on.push([crop, rates.crop]);
  if (rates.maskRate > 0) on.push([mask, rates.maskRate]);
  if (rates.reorder > 0) on.push([reorder, rates.reorder]);
  return on;
}

/** One augmented view of a non-empty sequence (a copy; the sequence itself is never changed). */
export function augmentSequence(items: Int32Array, rates: AugmentationRates, rng: Rng): Int32Array {
  const on = enabled(rates);
  if (on.length === 0 || items.length === 0) return items.slice();
  const [augmentation, rate] = on[on.length === 1 ? 0 : rng.int(0, on.length)]!;
  return augmentation(items, rate, rng);
}

/**
 * Two independently augmented views of each sequence, laid out as [first views of all sequences, second views of
 * all sequences], so the view paired with row i is row (i + n) mod 2n.
 */
export function twoViews(sequences: readonly Int32Array[], rates: AugmentationRates, rng: Rng): Int32Array[] {
  checkAugmentationRates(rates);
  const first = sequences.map((s) => augmentSequence(s, rates, rng));
  const second = sequences.map((s) => augmentSequence(s, rates, rng));
  return [...first, ...second];
}
