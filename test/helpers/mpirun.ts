/**
 * What the 2-rank tests share: the CLI, `mpiTest` (skipped where Open MPI's mpirun is missing, failing under
 * CI=true), the environment every rank runs in and the mpirun flags that work in a container.
 */
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';

export { CLI as cli } from './cli.js';
const hasMpirun = spawnSync('mpirun', ['--version']).status === 0;
if (!hasMpirun && process.env.CI === 'true') throw new Error('mpirun is missing: install openmpi-bin and libopenmpi-dev');
export const mpiTest = hasMpirun ? it : it.skip;
// One kernel thread per rank on shared cores; deterministic mode: the builtin GEMM and ranks summed in rank order.
export const env = { ...process.env, GRAFTREC_THREADS: '1', GRAFTREC_DETERMINISTIC: '1' };
// Shared memory without the cross-memory-attach copy, which containers often forbid (ptrace restrictions).
export const MPIRUN = ['--oversubscribe', ...(process.getuid?.() === 0 ? ['--allow-run-as-root'] : []), '--mca', 'btl', 'self,vader,tcp',
  '--mca', 'btl_vader_single_copy_mechanism', 'none'];

/** A command (node or mpirun) in that environment, with up to two minutes to finish. */
export function run(command: string, args: string[], extraEnv: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
