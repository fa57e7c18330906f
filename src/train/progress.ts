/**
 * Training progress: a live bar (cli-progress) with items/s, loss and ETA on a terminal; plain periodic lines
 * when output goes to a file or a CI log, where a redrawn bar would be noise.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  start(label: string, total: number): void;
  update(done: number, values: { loss: number; itemsPerSec: number }): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet) return { start() {}, update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar({
      stream,
      format: '{label} [{bar}] {percentage}% | {value}/{total} batches | loss {loss} | {itemsPerSec} items/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    }, cliProgress.Presets.shades_classic);
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
