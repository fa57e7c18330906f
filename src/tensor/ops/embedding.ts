import { ShapeError } from '../../errors.js';
import { noteRowGradient, record, rowGradIfNeeded } from '../autograd.js';
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
