/** How result tables summarise a number over seeds. */

/** Mean and population standard deviation of the finite values; null when there are none. */
export function meanAndStd(values: readonly number[]): { mean: number; std: number; n: number } | null {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return null;
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  const std = Math.sqrt(finite.reduce((a, b) => a + (b - mean) ** 2, 0) / finite.length);
  return { mean, std, n: finite.length };
}

/** "mean ± std" (population std) of the finite values, to 4 decimals; "–" when there are none. */
export function meanStd(values: readonly number[], digits = 4): string {
  const s = meanAndStd(values);
  return s === null ? '–' : `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
}

/** What a table's numbers are over: "seed 3" for one seed, "mean ± std over seeds 1, 2, 3" for several. */
export function seedsPhrase(seeds: readonly number[]): string {
  return seeds.length === 1 ? `seed ${seeds[0]}` : `mean ± std over seeds ${seeds.join(', ')}`;
}

/** The value itself for one seed, "mean ± std" for several. */
export function overSeeds(values: readonly number[], digits = 4): string {
  return values.length === 1 && Number.isFinite(values[0]) ? values[0]!.toFixed(digits) : meanStd(values, digits);
}

/**
 * One value per seed, in the order the seeds first appear: the value itself, or with cross-validation the mean over
 * the seed's folds (of the finite values; NaN where there are none), so a spread over seeds stays one over seeds.
 */
export function perSeedMeans<T extends { seed: number }>(items: readonly T[], value: (item: T) => number): number[] {
  const seeds = [...new Set(items.map((x) => x.seed))];
  return seeds.map((seed) => meanAndStd(items.filter((x) => x.seed === seed).map(value))?.mean ?? NaN);
}
