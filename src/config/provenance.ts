/**
 * Provenance: what produced a model directory, a patch directory or an experiment's results — the code (graftrec
 * version, git commit), the machine's kernel settings, the seed, the full resolved config and the exact data —
 * so a number in a results table can be traced to what made it. Written beside the artefact; never read back
 * to change behaviour.
 */
import { z } from 'zod';

export const ProvenanceSchema = z.object({
  /** graftrec's package.json version. */
  graftrec: z.string(),
  /** The commit of the git checkout graftrec ran from; null for an installed package (or without git). */
  gitCommit: z.string().nullable(),
  /** Whether tracked files differed from that commit (uncommitted changes); null without a commit. */
  gitDirty: z.boolean().nullable(),
  /** process.version, e.g. "v20.19.0". */
  node: z.string(),
  /** The native backend as it reported itself while the run started. */
  backend: z.object({
    /** The instruction set the builtin kernels were selected for: avx512, avx2 or portable. */
    cpuIsa: z.string(),
    /** Which GEMM ran: blas (a system BLAS) or builtin. */
    gemm: z.string(),
    /** The BLAS library loaded, or null when none was. */
    blas: z.string().nullable(),
    threads: z.number().int(),
  }),
  /** Deterministic kernels (fixed reduction order): results repeat bit for bit across thread counts. */
  deterministic: z.boolean(),
  /** The run's seed (an experiment's list of seeds). */
  seed: z.union([z.number().int(), z.array(z.number().int())]),
  /** Every setting the run used, defaults filled in. */
  config: z.record(z.string(), z.unknown()),
  /** The dataset trained on: the directory as given, and sha256 of its interactions (data/dataset.ts datasetHash). */
  dataset: z.object({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  /** When the run started (ISO 8601, UTC). */
  createdAt: z.string(),
});
export type Provenance = z.infer<typeof ProvenanceSchema>;
