import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { batchLength, causalBatch } from '../../src/data/batches.js';
import { createEncoder } from '../../src/models/encoders.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { Rng, noGrad } from '../../src/tensor/index.js';
import { graftPatches } from '../../src/transfer/insertion.js';
import { assertClose } from '../helpers/gradcheck.js';

const MAX_LEN = 12;
const config = ModelConfigSchema.parse({ backbone: 'gru4rec', numItems: 30, dim: 8, maxLen: MAX_LEN });

/** Every parameter random and non-zero (the padding row, biases), so leaks from padding would show. */
function randomModel(): GRU4Rec {
  const model = new GRU4Rec(config, new Rng(4));
  const rng = new Rng(9);
  for (const p of model.parameters()) rng.fillUniform(p.data, -0.5, 0.5);
  return model;
}

const rng = new Rng(21);
const windows = [3, 7, 2, 5, 6].map((n) => Int32Array.from({ length: n }, () => rng.int(1, 31)));
const C = config.dim;

describe('GRU4Rec', () => {
  it('has RecBole-like defaults: dim 64, 1 layer, dropout 0.25; sasrec keeps its own', () => {
    const d = ModelConfigSchema.parse({ backbone: 'gru4rec', numItems: 10 });
    assert.deepEqual([d.dim, d.layers, d.dropout], [64, 1, 0.25]);
    const s = ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 10 });
    assert.deepEqual([s.dim, s.layers, s.dropout], [50, 2, 0.5]);
  });

  it('is built by createEncoder, names its parameters and ties the softmax to the item embedding', () => {
    const model = createEncoder(ModelConfigSchema.parse({ backbone: 'gru4rec', numItems: 30, dim: 8, layers: 2 }), new Rng(1));
    assert.ok(model instanceof GRU4Rec);
    assert.deepEqual(model.parameters().map((p) => p.name), ['items.weight', 'gru.0.input.weight', 'gru.0.input.bias',
      'gru.0.hidden.weight', 'gru.0.hidden.bias', 'gru.1.input.weight', 'gru.1.input.bias', 'gru.1.hidden.weight', 'gru.1.hidden.bias']);
    assert.equal(model.outputWeight, model.items.ids!.weight);
    assert.equal(model.outputBias, null);
  });

  it('is causal: changing a later item leaves every earlier position bit-identical', () => {
    const model = randomModel();
    const ids = Int32Array.from([0, 0, 4, 9, 2, 17, 5, 8]);
    const before = noGrad(() => model.hidden(ids, 1, 8).data);
    ids[6] = 23;
    const after = noGrad(() => model.hidden(ids, 1, 8).data);
    assert.deepEqual(after.subarray(0, 6 * C), before.subarray(0, 6 * C));
    assert.notDeepEqual(after.subarray(6 * C, 7 * C), before.subarray(6 * C, 7 * C));
  });

  it('reads padding as absent: extra left padding changes nothing at real positions (float tolerance)', () => {
    const model = randomModel();
    const short = causalBatch(windows, batchLength(windows, 'causal', MAX_LEN));
    const full = causalBatch(windows, MAX_LEN);
    assert.ok(short.length < full.length);
    const [hs, hf] = noGrad(() => [model.hidden(short.inputs, short.size, short.length).data, model.hidden(full.inputs, full.size, full.length).data]);
    for (let b = 0; b < windows.length; b++) {
      const real = windows[b]!.length - 1;
      const rowShort = hs.subarray((b * short.length + short.length - real) * C, (b + 1) * short.length * C);
      const rowFull = hf.subarray((b * full.length + full.length - real) * C, (b + 1) * full.length * C);
      // Equal up to float rounding: the input projection is a GEMM of another shape, which a BLAS may block differently.
      assertClose(rowShort, rowFull, 1e-5, `sequence ${b}`);
    }
  });

  it('a user vector does not depend on the other histories in its batch', () => {
    const model = randomModel();
    const together = noGrad(() => model.userVectors(windows).data);
    windows.forEach((h, u) => assertClose(noGrad(() => model.userVectors([h]).data), together.subarray(u * C, (u + 1) * C), 1e-5, `user ${u}`));
  });

  it('applies dropout while training (a new mask each call) and none without a graph', () => {
    const model = randomModel();
    const ids = Int32Array.from([0, 3, 4, 5, 6, 7]);
    const evalA = noGrad(() => model.hidden(ids, 1, 6).data);
    assert.deepEqual(noGrad(() => model.hidden(ids, 1, 6).data), evalA);
    const trainA = model.hidden(ids, 1, 6).data;
    const trainB = model.hidden(ids, 1, 6).data;
    assert.notDeepEqual(trainA, evalA);
    assert.notDeepEqual(trainA, trainB);
  });

  it('refuses the masked objective and patch insertion with errors naming the backbone', () => {
    assert.throws(() => ModelConfigSchema.parse({ backbone: 'gru4rec', numItems: 10, objective: 'masked' }), /masked objective needs the nextitnet backbone \(gru4rec is causal\)/);
    assert.throws(() => graftPatches(randomModel(), null, new Rng(1)), /a gru4rec model has no insertion points for patches/);
    assert.throws(() => graftPatches(randomModel(), 'serial-each-sublayer', new Rng(1)), /a gru4rec model has no insertion points/);
  });
});
