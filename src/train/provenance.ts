/** Collects a run's provenance (config/provenance.ts) from the package, the native backend and the dataset. */
import { Provenance } from '../config/provenance.js';
import { datasetsHash } from '../data/merge.js';
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
    dataset: { path: o.dataset, sha256: await datasetsHash(o.dataset) },
    createdAt: new Date().toISOString(),
  };
}

/** A provenance record in words, one phrase per part: `graftrec info` prints them as lines, experiment tables as a note. */
export function describeProvenance(p: Provenance): { code: string; backend: string; seed: string; data: string } {
  const b = p.backend;
  return {
    code: `graftrec ${p.graftrec}${p.gitCommit ? ` (commit ${p.gitCommit.slice(0, 12)}${p.gitDirty ? ', with uncommitted changes' : ''})` : ''}, node ${p.node}, created ${p.createdAt}`,
    backend: `${b.cpuIsa}, ${b.gemm} GEMM${b.blas ? ` (BLAS loaded: ${b.blas})` : ''}, ${b.threads} thread${b.threads === 1 ? '' : 's'}, deterministic ${p.deterministic ? 'on' : 'off'}`,
    seed: Array.isArray(p.seed) ? p.seed.join(',') : String(p.seed),
    data: `${p.dataset.path} (sha256 ${p.dataset.sha256})`,
  };
}

/** The note an experiment's Markdown table ends with; its JSON holds the full record (config included). */
export function provenanceNote(p: Provenance): string {
  const d = describeProvenance(p);
  return `Provenance: ${d.code}; ${d.backend}; seed${d.seed.includes(',') ? 's' : ''} ${d.seed}; data ${d.data}.\n`;
}
