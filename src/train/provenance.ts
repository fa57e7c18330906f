/** Collects a run's provenance (config/provenance.ts) from the package, the native backend and the dataset. */
import { Provenance } from '../config/provenance.js';
import { datasetHash } from '../data/dataset.js';
import { gitCommit, gitDirty, packageVersion } from '../io/package.js';
import { backend } from '../tensor/index.js';

export interface ProvenanceInput {
  seed: number | number[];
  /** The full resolved config of the run (JSON-serialisable). */
  config: object;
  /** The dataset directory the run read. */
  dataset: string;
}

export async function collectProvenance(o: ProvenanceInput): Promise<Provenance> {
  const info = backend().info();
  return {
    graftrec: packageVersion(),
    gitCommit: gitCommit(),
    gitDirty: gitDirty(),
    node: process.version,
    backend: { cpuIsa: info.builtinIsa, gemm: info.gemmBackend, blas: info.blasPath === '' ? null : info.blasPath, threads: info.threads },
    deterministic: info.deterministic,
    seed: o.seed,
    // A JSON round trip: what is recorded is exactly what the file will hold (no undefined, no typed arrays).
    config: JSON.parse(JSON.stringify(o.config)) as Record<string, unknown>,
    dataset: { path: o.dataset, sha256: await datasetHash(o.dataset) },
    createdAt: new Date().toISOString(),
  };
}
