/**
 * The library's progress reporting: a plain callback instead of the command line's bar. Nothing is printed unless
 * the caller passes one.
 */
import { Progress } from '../train/progress.js';

/** One progress report of a training phase (an epoch): batches done of the total, the running loss and speed. */
export interface ProgressReport {
  /** What is running, e.g. "epoch 2/20". */
  label: string;
  done: number;
  total: number;
  loss: number;
  itemsPerSec: number;
}

export type ProgressCallback = (report: ProgressReport) => void;

/** The trainers' Progress, reporting to `callback` (or to nobody). */
export function progressTo(callback: ProgressCallback | undefined): Progress {
  let label = '';
  let total = 0;
  return {
    start(l, t) {
      label = l;
      total = t;
    },
    update(done, v) {
      callback?.({ label, done, total, loss: v.loss, itemsPerSec: v.itemsPerSec });
    },
    stop() {},
  };
}
