/**
 * The ranks of a data-parallel job started by an MPI launcher (`mpirun -np N graftrec … --distributed`): who this
 * process is, and the few collectives training needs. MPI itself is loaded at run time by the native addon
 * (native/mpi.cc), so graftrec runs without it; only opening a communicator needs it.
 */
import { DistributedError } from '../errors.js';
import { backend } from '../tensor/index.js';

export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** x = the element-wise sum of every rank's x, in place (the same result on every rank). */
  allreduceSum(x: Float32Array | Float64Array): void;
  /** Every rank's x concatenated in rank order, and each rank's length. */
  allgatherv<T extends Int32Array | Float32Array>(x: T): { data: T; counts: Int32Array };
  /**
   * Sums a row-sparse table over the ranks: each rank gives its rows marked in `rows`; afterwards `rows` marks the
   * union, whose rows hold the ranks' rows added in rank order (the same bits on every rank). Returns bytes sent.
   */
  sumRows(x: Float32Array, rows: Uint8Array, rowSize: number): number;
  barrier(): void;
  /** Ends MPI in this process after a run that completed on every rank. */
  finalize(): void;
  /** Ends every rank of the job at once: a rank that failed must not leave the others waiting in a collective. */
  abort(code: number): never;
}

/** The launcher's rank and size from the environment (Open MPI, or a PMI-based launcher), or null when none started us. */
export function launcherEnvironment(env: NodeJS.ProcessEnv = process.env): { rank: number; size: number } | null {
  const pairs: [string, string][] = [['OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE'], ['PMIX_RANK', 'PMIX_SIZE'], ['PMI_RANK', 'PMI_SIZE']];
  for (const [rank, size] of pairs) {
    if (env[rank] !== undefined && env[size] !== undefined) return { rank: Number(env[rank]), size: Number(env[size]) };
  }
  return null;
}

/**
 * The job's communicator, or a one-line DistributedError saying why there is none: no launcher started this
 * process, or the MPI library cannot be loaded (GRAFTREC_MPI names a library path instead of the usual names).
 */
export function openCommunicator(env: NodeJS.ProcessEnv = process.env): Communicator {
  if (launcherEnvironment(env) === null) {
    throw new DistributedError('--distributed needs an MPI launcher: run it as `mpirun -np N graftrec … --distributed`');
  }
  const k = backend();
  let world: { rank: number; size: number };
  try {
    world = k.mpiInit(env.GRAFTREC_MPI ?? '');
  } catch (err) {
    throw new DistributedError(`--distributed: ${(err as Error).message.replace(/^mpiInit: /, '')}`, { cause: err });
  }
  return {
    rank: world.rank,
    size: world.size,
    allreduceSum: (x) => k.mpiAllreduceSum(x),
    allgatherv: (x) => k.mpiAllgatherv(x),
    sumRows: (x, rows, rowSize) => k.mpiSumRows(x, rows, rowSize),
    barrier: () => k.mpiBarrier(),
    finalize: () => k.mpiFinalize(),
    abort: (code) => k.mpiAbort(code),
  };
}

/** The rows [start, end) of a global batch of `total` rows that `rank` of `size` trains on: contiguous, sizes differing by ≤ 1. */
export function shardRows(total: number, rank: number, size: number): { start: number; end: number } {
  return { start: Math.floor((total * rank) / size), end: Math.floor((total * (rank + 1)) / size) };
}
