/**
 * Turning item sequences into model inputs. Sequences are LEFT-padded with 0 so the most recent item always sits
 * at the last position, where the causal model's user representation is read. The model reads padding as zeros,
 * so a training batch need only be as long as its longest window (batchLength).
 */
import { Rng } from '../tensor/index.js';

/**
 * Cuts training sequences into windows of at most maxLen + 1 items, from the end backwards. Consecutive windows
 * overlap by one item (the first input of a later window is the last target of the earlier one), so every
 * transition is a training target exactly once. Windows shorter than 2 items have no transition and are dropped.
 */
export function trainingWindows(sequences: readonly Int32Array[], maxLen: number): Int32Array[] {
  const windows: Int32Array[] = [];
  for (const s of sequences) {
    for (let end = s.length; end >= 2; end -= maxLen) windows.push(s.subarray(Math.max(0, end - maxLen - 1), end));
  }
  return windows;
}

/** Positions a batch of these windows needs: the longest window's inputs (causal: all but its last item), at most maxLen. */
export function batchLength(windows: readonly Int32Array[], objective: 'causal' | 'masked', maxLen: number): number {
  let longest = 0;
  for (const w of windows) longest = Math.max(longest, w.length);
  return Math.max(1, Math.min(maxLen, objective === 'causal' ? longest - 1 : longest));
}

export interface Batch {
  size: number;
  length: number;
  inputs: Int32Array;
  /** Target item per position; 0 where nothing is predicted. */
  targets: Int32Array;
}

/** Causal batch: inputs = window[:-1], targets = window[1:], both left-padded to `length`. */
export function causalBatch(windows: readonly Int32Array[], length: number): Batch {
  const size = windows.length;
  const inputs = new Int32Array(size * length);
  const targets = new Int32Array(size * length);
  windows.forEach((w, b) => {
    const m = w.length - 1;
    inputs.set(w.subarray(0, m), b * length + length - m);
    targets.set(w.subarray(1), b * length + length - m);
  });
  return { size, length, inputs, targets };
}

export interface MaskingOptions {
  probability: number;
  maskToken: number;
  numItems: number;
}

/**
 * Masked (cloze) batch, BERT-style but never masking padding: each real position is chosen with `probability`
 * (at least one per sequence); a chosen position becomes the mask token 80% of the time, a random item 10%,
 * and stays 10%; its target is the original item.
 */
export function maskedBatch(windows: readonly Int32Array[], length: number, options: MaskingOptions, rng: Rng): Batch {
  const size = windows.length;
  const inputs = new Int32Array(size * length);
  const targets = new Int32Array(size * length);
  windows.forEach((w0, b) => {
    const w = w0.length > length ? w0.subarray(w0.length - length) : w0;
    const start = b * length + length - w.length;
    inputs.set(w, start);
    let chosen = 0;
    for (let i = 0; i < w.length; i++) {
      if (rng.uniform() >= options.probability) continue;
      chosen++;
      mask(start + i);
    }
    if (chosen === 0) mask(start + rng.int(0, w.length));
  });
  function mask(pos: number): void {
    targets[pos] = inputs[pos]!;
    const r = rng.uniform();
    if (r < 0.8) inputs[pos] = options.maskToken;
    else if (r < 0.9) inputs[pos] = rng.int(1, options.numItems + 1);
  }
  return { size, length, inputs, targets };
}
