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
