/**
 * Summing every rank's gradients so that each rank holds the whole global batch's gradient and takes the same
 * optimizer step. Each rank's loss is already scaled by its share of the batch's targets (see step.ts), so a plain
 * sum gives the single-process mean.
 *
 * Dense gradients (and a few scalars, such as the step's losses) travel in one fused buffer, summed by
 * MPI_Allreduce — or, in deterministic mode, gathered and summed here in rank order, so the result does not depend
 * on the MPI library's reduction algorithm. Row-sparse gradients (item tables) travel as (row id, row) pairs: a
 * step touches a few thousand of a table's rows, so gathering them costs far less than reducing the whole table.
 * Their merge is deterministic too: every rank adds the ranks' rows in rank order (native/mpi.cc). When the ranks'
 * rows together outnumber the table's, the table is summed whole instead.
 */
import { Parameter, backend } from '../tensor/index.js';
import { Communicator } from './communicator.js';

export interface ExchangeResult {
  /** The scalars summed over ranks. */
  scalars: number[];
  /** Bytes this rank sent in the step's collectives. */
  bytesSent: number;
}

export function exchangeGradients(comm: Communicator, params: readonly Parameter[], scalars: readonly number[]): ExchangeResult {
  const trained = params.filter((p) => p.requiresGrad && p.grad);
  const dense = trained.filter((p) => !p.touchedRows);
  const sparse = trained.filter((p) => p.touchedRows);
  const { sums, bytes } = reduceDense(comm, dense, scalars);
  return { scalars: sums, bytesSent: bytes + gatherSparse(comm, sparse) };
}

function reduceDense(comm: Communicator, dense: readonly Parameter[], scalars: readonly number[]): { sums: number[]; bytes: number } {
  const n = dense.reduce((s, p) => s + p.size, 0);
  const fused = fusedBuffer(n + scalars.length);
  let offset = 0;
  for (const p of dense) {
    fused.set(p.grad!, offset);
    offset += p.size;
  }
  fused.set(scalars, n);
  const summed = backend().info().deterministic ? orderedSum(comm, fused) : (comm.allreduceSum(fused), fused);
  offset = 0;
  for (const p of dense) {
    p.grad!.set(summed.subarray(offset, offset + p.size));
    offset += p.size;
  }
  return { sums: Array.from(summed.subarray(n)), bytes: fused.byteLength };
}

let fusedStore: Float32Array | null = null;

/** One buffer for every step's dense exchange: a fresh megabyte each step would be paged in and zeroed again. */
function fusedBuffer(length: number): Float32Array {
  if (fusedStore?.length !== length) fusedStore = new Float32Array(length);
  return fusedStore;
}

/** The element-wise sum of every rank's x, added in rank order (the same bits on every rank, for any MPI). */
function orderedSum(comm: Communicator, x: Float32Array): Float32Array {
  const { data } = comm.allgatherv(x);
  const sum = new Float32Array(x.length);
  for (let r = 0; r < comm.size; r++) backend().axpy(sum, 1, data.subarray(r * x.length, (r + 1) * x.length));
  return sum;
}

/**
 * Sums each row-sparse parameter's gradient over the ranks, leaving the union of rows marked as touched. Rows
 * travel as (row id, row) pairs while the ranks' rows together are fewer than the table's; past that (many ranks,
 * or a small table) gathering every rank's rows would move more than summing the whole table, which is done
 * instead. Both give the same bits: the ranks' rows added in rank order.
 */
function gatherSparse(comm: Communicator, sparse: readonly Parameter[]): number {
  if (sparse.length === 0) return 0;
  for (const p of sparse) if (p.allRowsTouched) p.touchedRows!.fill(1);
  const counts = Int32Array.from(sparse, (p) => countMarked(p.touchedRows!));
  const perRank = comm.allgatherv(counts).data;
  let bytes = counts.byteLength;
  sparse.forEach((p, i) => {
    let rowsSent = 0;
    for (let r = 0; r < comm.size; r++) rowsSent += perRank[r * sparse.length + i]!;
    bytes += rowsSent >= p.touchedRows!.length ? sumWholeTable(comm, p) : comm.sumRows(p.grad!, p.touchedRows!, p.rowSize);
    // Every rank then sees the same union: when it is the whole table, all ranks take Adam's dense path alike.
    p.allRowsTouched = p.touchedRows!.indexOf(0) === -1;
  });
  return bytes;
}

function countMarked(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i]!;
  return n;
}

/**
 * The whole table's gradient summed over the ranks, and the union of their rows marked. A rank's unmarked rows
 * are zero (the optimizer zeroes the rows it consumes), so they add nothing; the union travels as counts, whose
 * float sums are exact in any order, so lazy Adam still updates only rows some rank touched.
 */
function sumWholeTable(comm: Communicator, p: Parameter): number {
  const touched = p.touchedRows!;
  const union = Float32Array.from(touched);
  comm.allreduceSum(union);
  const grad = p.grad!;
  if (backend().info().deterministic) grad.set(orderedSum(comm, grad));
  else comm.allreduceSum(grad);
  for (let i = 0; i < touched.length; i++) touched[i] = union[i]! > 0 ? 1 : 0;
  return union.byteLength + grad.byteLength;
}

/**
 * Gives every rank a gradient buffer (of zeros where it has none) for each parameter that has one on some rank,
 * so that exchangeGradients sends the same parameters in the same layout everywhere: a rank whose shard of a batch
 * is empty, or whose forward pass did not reach a parameter, still joins the step. `params` must be listed in the
 * same order on every rank.
 */
export function shareGradientBuffers(comm: Communicator, params: readonly Parameter[]): void {
  const has = Int32Array.from(params, (p) => (p.requiresGrad && p.grad ? 1 : 0));
  const { data } = comm.allgatherv(has);
  params.forEach((p, i) => {
    if (!p.requiresGrad || p.grad) return;
    for (let r = 0; r < comm.size; r++) {
      if (data[r * params.length + i] === 1) {
        p.gradBuffer();
        return;
      }
    }
  });
}
