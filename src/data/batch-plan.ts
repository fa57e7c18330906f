/**
 * Which training windows go into which batch, for one epoch. Every batch is padded only to its own longest window,
 * so grouping windows of similar length into batches (length buckets) removes most of the padding that random
 * batches of real logs carry — most users are short, a few are long, and a random batch nearly always holds one
 * long user. Bucketing stays reproducible and unbiased: the windows are shuffled with the seeded generator, sorted
 * stably by length (so windows of equal length stay in shuffled order), cut into batches, and the batches'
 * order is shuffled again. Every window is in exactly one batch of every epoch.
 */
import { DataError } from '../errors.js';
import { Rng } from '../tensor/index.js';

export interface BatchPlanOptions {
  /** Windows per batch (used when tokens is 0). */
  batch: number;
  /** Padded positions per batch (windows × the batch's longest window); 0 = a fixed number of windows instead. */
  tokens: number;
  /** Group windows of similar length into batches. Off: batches of randomly drawn windows. */
  lengthBuckets: boolean;
}

/**
 * One epoch's batches as lists of window indices. `lengths[i]` is window i's padded length (the positions it
 * occupies in a batch row). A token budget closes a batch before the window that would make windows × longest
 * exceed it; a window longer than the whole budget gets a batch of its own.
 */
export function epochBatches(lengths: Int32Array, options: BatchPlanOptions, rng: Rng): Int32Array[] {
  if (!(options.batch >= 1)) throw new DataError(`batch must be at least 1 window, got ${options.batch}`);
  if (!(options.tokens >= 0)) throw new DataError(`batch tokens must be 0 (off) or positive, got ${options.tokens}`);
  const order = rng.shuffle(Int32Array.from({ length: lengths.length }, (_, i) => i));
  // Int32Array.prototype.sort is not guaranteed stable; a plain array's sort is.
  const sorted = options.lengthBuckets ? Int32Array.from(Array.from(order).sort((a, b) => lengths[a]! - lengths[b]!)) : order;
  const batches: Int32Array[] = [];
  let start = 0;
  let longest = 0;
  for (let i = 0; i < sorted.length; i++) {
    const len = Math.max(longest, lengths[sorted[i]!]!);
    const size = i - start + 1;
    const full = options.tokens > 0 ? size > 1 && size * len > options.tokens : size > options.batch;
    if (full) {
      batches.push(sorted.subarray(start, i));
      start = i;
      longest = lengths[sorted[i]!]!;
    } else {
      longest = len;
    }
  }
  if (start < sorted.length) batches.push(sorted.subarray(start));
  if (!options.lengthBuckets) return batches;
  const shuffled = rng.shuffle(Int32Array.from({ length: batches.length }, (_, i) => i));
  return Array.from(shuffled, (i) => batches[i]!);
}

/** Positions in an epoch's batches, real and padded, for reporting how much of the work is padding. */
export function paddingShare(lengths: Int32Array, batches: readonly Int32Array[]): number {
  let real = 0;
  let padded = 0;
  for (const b of batches) {
    let longest = 0;
    for (const i of b) {
      real += lengths[i]!;
      longest = Math.max(longest, lengths[i]!);
    }
    padded += longest * b.length;
  }
  return padded > 0 ? 1 - real / padded : 0;
}
