/**
 * Progress on stderr. Training: a live bar (cli-progress) with items/s, loss and ETA on a terminal; plain periodic
 * lines when output goes to a file or a CI log, where a redrawn bar would be noise. Steps measured in percent
 * (ingest): the same bar on a terminal, nothing elsewhere.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  start(label: string, total: number): void;
  update(done: number, values: { loss: number; itemsPerSec: number }): void;
  stop(): void;
}

/** The one look of graftrec's bars: `format` after the label and the bar. */
function terminalBar(stream: NodeJS.WriteStream, format: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar({ stream, format: `{label} [{bar}] ${format}`, hideCursor: true, etaBuffer: 50 }, cliProgress.Presets.shades_classic);
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet) return { start() {}, update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = terminalBar(stream, '{percentage}% | {value}/{total} batches | loss {loss} | {itemsPerSec} items/s | ETA {eta_formatted}');
    return {
      start: (label, total) => bar.start(total, 0, { label, loss: '-', itemsPerSec: '-' }),
      update: (done, v) => bar.update(done, { loss: v.loss.toFixed(4), itemsPerSec: Math.round(v.itemsPerSec) }),
      stop: () => bar.stop(),
    };
  }
  let label = '';
  let total = 0;
  let started = 0;
  let lastPrint = 0;
  return {
    start(l, t) {
      label = l;
      total = t;
      started = Date.now();
      lastPrint = started;
    },
    update(done, v) {
      const now = Date.now();
      if (now - lastPrint < 10_000 && done < total) return;
      lastPrint = now;
      const eta = done > 0 ? ((now - started) / done) * (total - done) / 1000 : 0;
      stream.write(`${label} ${done}/${total} batches, loss ${v.loss.toFixed(4)}, ${Math.round(v.itemsPerSec)} items/s, ETA ${eta.toFixed(0)}s\n`);
    },
    stop() {},
  };
}

/** Progress through named steps, each measured in percent. */
export interface StepProgress {
  update(step: string, percent: number): void;
  /** `done`: the last step finished (its bar ends full); otherwise it failed and its bar stays where it was. */
  stop(done: boolean): void;
}

/**
 * A bar per step on a terminal: a finished step's bar stays as a line, so the steps read as a log. Nothing is drawn
 * before `delayMs` have passed, so a small input that is done at once prints nothing. Null off a terminal or when
 * quiet (a percentage estimate in a log says little, and the summary follows anyway), so nothing is measured.
 */
export function createStepProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false, delayMs = 1000): StepProgress | null {
  if (quiet || !stream.isTTY) return null;
  const bar = terminalBar(stream, '{percentage}% | {duration_formatted}');
  const started = Date.now();
  let step: string | null = null;
  let shown: string | null = null;
  const finish = (done: boolean) => {
    if (shown === null) return;
    if (done) bar.update(100);
    bar.stop();
    shown = null;
  };
  return {
    update(next, percent) {
      if (next !== step) {
        finish(true);
        step = next;
      }
      if (shown === null) {
        if (Date.now() - started < delayMs) return;
        bar.start(100, 0, { label: step });
        shown = step;
      }
      bar.update(Math.round(percent));
    },
    stop: (done) => finish(done),
  };
}
