/** The popularity baseline of a target catalogue: how many of the given users have each target item. */
export function targetPopularity(targets: readonly Int32Array[], users: Int32Array, numTargets: number): Float32Array {
  const counts = new Float32Array(numTargets);
  for (const u of users) for (const t of targets[u]!) counts[t]!++;
  return counts;
}
