/** Times fn: warms up, then repeats until minSeconds have passed (at least minReps runs). Milliseconds per run. */
export function timeIt(fn: () => void, options: { minSeconds?: number; minReps?: number; warmup?: number } = {}): { medianMs: number; bestMs: number; reps: number } {
  const minSeconds = options.minSeconds ?? 0.5;
  const minReps = options.minReps ?? 5;
  for (let i = 0; i < (options.warmup ?? 2); i++) fn();
  const times: number[] = [];
  const start = process.hrtime.bigint();
  while (times.length < minReps || Number(process.hrtime.bigint() - start) / 1e9 < minSeconds) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)]!, bestMs: times[0]!, reps: times.length };
}

export type Emit = (record: Record<string, unknown>) => void;

/** x to `digits` decimals, for the benchmarks' JSON. */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The p-th percentile (0–100) of ascending-sorted times: the value at rank ⌊p/100 · n⌋. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
