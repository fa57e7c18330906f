/**
 * Summing every rank's gradients so that each rank holds the whole global batch's gradient and takes the same
 * optimizer step. Each rank's loss is already scaled by its share of the batch's targets (see step.ts), so a plain
 * sum gives the single-process mean.
 *
 * Dense gradients (and a few scalars, such as the step's losses) travel in one fused buffer, summed by
 * MPI_Allreduce — or, in deterministic mode, gathered and summed here in rank order, so the result does not depend
 * on the MPI library's reduction algorithm. Row-sparse gradients (item tables) travel as (row id, row) pairs: a
 * step touches a few hundred of a table's rows, so gathering them costs far less than reducing the whole table.
 * Their merge is deterministic too: every rank zeroes the union of rows and adds the ranks' rows in rank order.
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
  const fused = new Float32Array(n + scalars.length);
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

/** The element-wise sum of every rank's x, added in rank order (the same bits on every rank, for any MPI). */
function orderedSum(comm: Communicator, x: Float32Array): Float32Array {
  const { data } = comm.allgatherv(x);
  const sum = new Float32Array(x.length);
  for (let r = 0; r < comm.size; r++) backend().axpy(sum, 1, data.subarray(r * x.length, (r + 1) * x.length));
  return sum;
}

/**
 * Gathers every rank's touched rows of the row-sparse parameters in two collectives (ids, then rows) and writes
 * their sums into each parameter's gradient, marking the union of rows as touched. The id buffer holds, per
 * parameter, its row count and then its row ids. The rows are copied out and added back by the embedding kernels
 * (a gather, and a scatter-add that adds the ids in order), not row by row here.
 */
function gatherSparse(comm: Communicator, sparse: readonly Parameter[]): number {
  if (sparse.length === 0) return 0;
  const k = backend();
  const rowsOf = sparse.map((p) => (p.allRowsTouched ? Int32Array.from({ length: p.touchedRows!.length }, (_, i) => i) : k.collectRows(p.touchedRows!)));
  const ids = new Int32Array(rowsOf.reduce((s, r) => s + 1 + r.length, 0));
  const values = new Float32Array(sparse.reduce((s, p, i) => s + rowsOf[i]!.length * p.rowSize, 0));
  let io = 0;
  let vo = 0;
  sparse.forEach((p, i) => {
    const rows = rowsOf[i]!;
    ids[io++] = rows.length;
    ids.set(rows, io);
    io += rows.length;
    const n = rows.length * p.rowSize;
    k.embeddingForward(p.grad!, rows, values.subarray(vo, vo + n), p.touchedRows!.length, p.rowSize);
    vo += n;
  });
  const gathered = { ids: comm.allgatherv(ids), values: comm.allgatherv(values) };
  // Each rank's (parameter, ids, rows) in rank order.
  const contributions: { p: Parameter; ids: Int32Array; rows: Float32Array }[] = [];
  let idStart = 0;
  let valueStart = 0;
  for (let r = 0; r < comm.size; r++) {
    let i = idStart;
    let v = valueStart;
    for (const p of sparse) {
      const count = gathered.ids.data[i++]!;
      contributions.push({ p, ids: gathered.ids.data.subarray(i, i + count), rows: gathered.values.data.subarray(v, v + count * p.rowSize) });
      i += count;
      v += count * p.rowSize;
    }
    idStart += gathered.ids.counts[r]!;
    valueStart += gathered.values.counts[r]!;
  }
  // Zero the union (a rank's own rows are among its contributions), then add each rank's rows in rank order.
  for (const c of contributions) for (const id of c.ids) c.p.touchedRows![id] = 1;
  for (const p of sparse) k.scaleRows(p.grad!, p.touchedRows!, p.rowSize, 0);
  for (const c of contributions) k.embeddingBackward(c.ids, c.rows, c.p.grad!, c.p.touchedRows!.length, c.p.rowSize);
  // Every rank then sees the same union: when it is the whole table, all ranks take Adam's dense path alike.
  for (const p of sparse) p.allRowsTouched = p.touchedRows!.every((t) => t === 1);
  return ids.byteLength + values.byteLength;
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
