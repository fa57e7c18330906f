/** Checks every backbone's network must pass, shared by the per-backbone model tests. */
import assert from 'node:assert/strict';
import { batchLength, causalBatch } from '../../src/data/batches.js';
import { UserEncoder } from '../../src/models/encoder.js';
import { Rng, noGrad } from '../../src/tensor/index.js';
import { assertClose } from './gradcheck.js';

/** Every parameter random and non-zero (the padding row, biases, LayerNorm shifts), so leaks from padding would show. */
export function randomizeParameters<M extends UserEncoder>(model: M): M {
  const rng = new Rng(9);
  for (const p of model.parameters()) rng.fillUniform(p.data, -0.5, 0.5);
  return model;
}

/**
 * A batch padded to its longest window equals one padded to max-len at every real position. Equal up to float
 * rounding, not bit for bit: GEMMs of another shape may be blocked differently by a BLAS.
 */
export function assertPaddingChangesNothing(model: UserEncoder, windows: readonly Int32Array[]): void {
  const C = model.config.dim;
  const short = causalBatch(windows, batchLength(windows, 'causal', model.config.maxLen));
  const full = causalBatch(windows, model.config.maxLen);
  assert.ok(short.length < full.length, 'the longer batch has a padding-only prefix');
  const [hs, hf] = noGrad(() => [model.hidden(short.inputs, short.size, short.length).data, model.hidden(full.inputs, full.size, full.length).data]);
  for (let b = 0; b < windows.length; b++) {
    const real = windows[b]!.length - 1;
    const rowShort = hs.subarray((b * short.length + short.length - real) * C, (b + 1) * short.length * C);
    const rowFull = hf.subarray((b * full.length + full.length - real) * C, (b + 1) * full.length * C);
    assertClose(rowShort, rowFull, 1e-5, `sequence ${b}`);
  }
}

/** A user vector computed alone equals the one computed in a batch of other histories. */
export function assertUserVectorsIndependent(model: UserEncoder, histories: readonly Int32Array[]): void {
  const C = model.config.dim;
  const together = noGrad(() => model.userVectors(histories).data);
  histories.forEach((h, u) => assertClose(noGrad(() => model.userVectors([h]).data), together.subarray(u * C, (u + 1) * C), 1e-5, `user ${u}`));
}

/** Dropout while a graph is recorded (a new mask each call), none without one (evaluation is deterministic). */
export function assertDropoutOnlyWhileTraining(model: UserEncoder): void {
  const ids = Int32Array.from([0, 3, 4, 5, 6, 7]);
  const evalA = noGrad(() => model.hidden(ids, 1, 6).data);
  assert.deepEqual(noGrad(() => model.hidden(ids, 1, 6).data), evalA);
  const trainA = model.hidden(ids, 1, 6).data;
  const trainB = model.hidden(ids, 1, 6).data;
  assert.notDeepEqual(trainA, evalA);
  assert.notDeepEqual(trainA, trainB);
}

/**
 * Changing the item at `changed` of one sequence: a causal network leaves every earlier position bit-identical,
 * a bidirectional one changes them. Returns whether the earlier positions stayed the same.
 */
export function earlierPositionsUnchanged(model: UserEncoder, ids: Int32Array, changed: number, item: number): boolean {
  const C = model.config.dim;
  const L = ids.length;
  const before = noGrad(() => model.hidden(ids, 1, L).data);
  const edited = Int32Array.from(ids);
  edited[changed] = item;
  const after = noGrad(() => model.hidden(edited, 1, L).data);
  assert.notDeepEqual(after.subarray(changed * C, (changed + 1) * C), before.subarray(changed * C, (changed + 1) * C), 'the changed position changed');
  // Only real positions: padding rows hold values nothing reads.
  let first = 0;
  while (ids[first] === 0) first++;
  return after.subarray(first * C, changed * C).every((x, i) => x === before[first * C + i]);
}
