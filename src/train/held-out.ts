/**
 * The held-out items loss term (PTUM's masked behaviour prediction, Wu et al., Findings of EMNLP 2020; the
 * multinomial likelihood of Mult-DAE, Liang et al., WWW 2018): a share ρ of each training window's items is held
 * out, the rest is read into one user vector the way transfer tasks read users (mean over the real positions),
 * and that vector must score every held-out item above the catalogue through the model's own output layer.
 *
 * Why: next-item training shapes each position for the item that comes next, which on real logs is mostly
 * recency and popularity; what separates users (taste, and with it demographics) is which items a history holds
 * as a whole. This term asks the very vector that transfer tasks pool to carry that.
 */
import { pickPositions } from '../data/augment.js';
import { Rng, Tensor, embedding, softmaxCrossEntropy } from '../tensor/index.js';
import { UserEncoder } from '../models/encoder.js';
import { CONTRASTIVE_READING } from './contrastive.js';

/** The kept part of each window (what the network reads) and the held-out items with the window each belongs to. */
export interface HeldOutSplit {
  kept: Int32Array[];
  /** Held-out item ids, window by window. */
  targets: Int32Array;
  /** For each held-out item, the index of its window. */
  windowOf: Int32Array;
}

/**
 * Holds out ⌊ρ·n⌋ distinct positions of each window of n items (at least one item is kept and, when n ≥ 2, at
 * least one held out), chosen with `rng` as the item-mask augmentation chooses; the kept items keep their order.
 */
export function holdOutItems(windows: readonly Int32Array[], rate: number, rng: Rng): HeldOutSplit {
  const kept: Int32Array[] = [];
  const targets: number[] = [];
  const windowOf: number[] = [];
  windows.forEach((items, w) => {
    const n = items.length;
    const out = pickPositions(n, n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.floor(rate * n))), rng);
    for (let i = 0; i < n; i++) {
      if (out[i]) {
        targets.push(items[i]!);
        windowOf.push(w);
      }
    }
    kept.push(items.filter((_, i) => out[i] === 0));
  });
  return { kept, targets: Int32Array.from(targets), windowOf: Int32Array.from(windowOf) };
}

/**
 * Mean cross-entropy of the held-out items under a softmax over the whole catalogue, each scored from its own
 * window's pooled user vector (the vector is repeated once per held-out item, so its gradient sums over them).
 */
export function heldOutLoss(model: UserEncoder, split: HeldOutSplit): Tensor {
  const users = model.userVectors(split.kept, CONTRASTIVE_READING);
  const rows = embedding(users, split.windowOf, [split.windowOf.length]);
  return softmaxCrossEntropy(rows, model.outputWeight, model.outputBias, split.targets, { ignoreIndex: 0 });
}
