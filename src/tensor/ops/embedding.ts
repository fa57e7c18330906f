import { ShapeError } from '../../errors.js';
import { noteDenseGradient, noteRowGradient, record, rowGradIfNeeded } from '../autograd.js';
import { backend } from '../backend.js';
import { Shape, Tensor, shapeString, sizeOf } from '../tensor.js';

/** Looks up rows of table [V, C] for integer ids of shape idsShape -> [...idsShape, C]. */
export function embedding(table: Tensor, ids: Int32Array, idsShape: Shape): Tensor {
  if (table.shape.length !== 2) throw new ShapeError(`embedding: table must be [V, C], got ${shapeString(table.shape)}`);
  if (sizeOf(idsShape) !== ids.length) {
    throw new ShapeError(`embedding: ${ids.length} ids do not fill shape ${shapeString(idsShape)}`);
  }
  const [V, C] = table.shape as [number, number];
  const k = backend();
  const out = Tensor.empty([...idsShape, C]);
  k.embeddingForward(table.data, ids, out.data, V, C);
  return record(out, 'embedding', [table], (g) => {
    const dtable = rowGradIfNeeded(table);
    if (!dtable) return;
    k.embeddingBackward(ids, g, dtable, V, C);
    noteRowGradient(table, ids, k.markRows);
  });
}

/**
 * Weighted bags of table rows: out[s] = Σ_{r in bag s} weights[r] · table[ids[r]], bags cut by `offsets` [S + 1]
 * → [S, C]. The same as embedding then segmentWeightedSum, without the [ids, C] rows in between. The weights are
 * constants (no gradient); the table gets a row-sparse gradient.
 */
export function embeddingBag(table: Tensor, ids: Int32Array, weights: Float32Array, offsets: Int32Array): Tensor {
  if (table.shape.length !== 2) throw new ShapeError(`embeddingBag: table must be [V, C], got ${shapeString(table.shape)}`);
  if (weights.length !== ids.length) throw new ShapeError(`embeddingBag: ${weights.length} weights for ${ids.length} ids`);
  const [V, C] = table.shape as [number, number];
  const k = backend();
  const out = Tensor.empty([Math.max(0, offsets.length - 1), C]);
  k.embeddingBagForward(table.data, ids, weights, offsets, out.data, V, C);
  return record(out, 'embeddingBag', [table], (g) => {
    const dtable = rowGradIfNeeded(table);
    if (!dtable) return;
    k.embeddingBagBackward(ids, weights, offsets, g, dtable, V, C);
    noteRowGradient(table, ids, k.markRows);
  });
}

/**
 * The first `rows` rows of table [V, C] as a [rows, C] tensor sharing its data (no copy); gradients flow back
 * into those rows. A tied softmax uses it to score items without the rows after them (a mask token's).
 */
export function leadingRows(table: Tensor, rows: number): Tensor {
  if (table.shape.length !== 2) throw new ShapeError(`leadingRows: table must be [V, C], got ${shapeString(table.shape)}`);
  const [V, C] = table.shape as [number, number];
  if (!Number.isInteger(rows) || rows < 0 || rows > V) throw new ShapeError(`leadingRows: ${rows} rows of a table of ${V}`);
  const out = new Tensor(table.data.subarray(0, rows * C), [rows, C]);
  const k = backend();
  return record(out, 'leadingRows', [table], (g) => {
    const dtable = rowGradIfNeeded(table);
    if (!dtable) return;
    k.axpy(dtable.subarray(0, rows * C), 1, g);
    // Which rows the consumer touched is not known here (a sampled softmax touches few): update them all.
    noteDenseGradient(table);
  });
}
