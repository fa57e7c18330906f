import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { batchLength, causalBatch } from '../../src/data/batches.js';
import { SASRec } from '../../src/models/sasrec.js';
import { Rng, noGrad } from '../../src/tensor/index.js';
import { assertClose } from '../helpers/gradcheck.js';

const MAX_LEN = 12;
const config = ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 30, dim: 8, layers: 2, heads: 2, maxLen: MAX_LEN, dropout: 0.3 });

/** Every parameter random and non-zero (the padding row, biases, LayerNorm shifts), so leaks would show. */
function randomModel(): SASRec {
  const model = new SASRec(config, new Rng(4));
  const rng = new Rng(9);
  for (const p of model.parameters()) rng.fillUniform(p.data, -0.5, 0.5);
  return model;
}

const rng = new Rng(21);
const windows = [3, 7, 2, 5, 6].map((n) => Int32Array.from({ length: n }, () => rng.int(1, 31)));
const C = config.dim;

describe('SASRec', () => {
  it('has the published Games shape by default: dim 50, 2 layers, 1 head, dropout 0.5, max-len 50', () => {
    const d = ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 10 });
    assert.deepEqual([d.dim, d.layers, d.heads, d.dropout, d.maxLen], [50, 2, 1, 0.5, 50]);
    assert.equal(ModelConfigSchema.parse({ numItems: 10 }).dim, 64, 'nextitnet keeps its own default');
  });

  it('names its parameters as checkpoint keys and ties the softmax to the item embedding', () => {
    const model = new SASRec(config, new Rng(1));
    const names = model.parameters().map((p) => p.name);
    for (const n of ['items.weight', 'positions.weight', 'block.0.attention.query.weight', 'block.1.ff2.bias', 'block.1.ln2.gamma', 'final_norm.beta']) {
      assert.ok(names.includes(n), n);
    }
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

  it('reads padding as absent: a batch padded to its longest window equals padding to max-len at every real position', () => {
    const model = randomModel();
    const short = causalBatch(windows, batchLength(windows, 'causal', MAX_LEN));
    const full = causalBatch(windows, MAX_LEN);
    assert.ok(short.length < full.length);
    const [hs, hf] = noGrad(() => [model.hidden(short.inputs, short.size, short.length).data, model.hidden(full.inputs, full.size, full.length).data]);
    for (let b = 0; b < windows.length; b++) {
      const real = windows[b]!.length - 1;
      const rowShort = hs.subarray((b * short.length + short.length - real) * C, (b + 1) * short.length * C);
      const rowFull = hf.subarray((b * full.length + full.length - real) * C, (b + 1) * full.length * C);
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

  it('refuses sequences longer than its positional table, heads that do not divide dim, and the masked objective', () => {
    const model = randomModel();
    assert.throws(() => model.hidden(new Int32Array(13).fill(1), 1, 13), /13 positions exceed the positional table \(max-len 12\)/);
    assert.throws(() => ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 10, dim: 50, heads: 3 }), /3 attention heads do not divide dim 50/);
    assert.throws(() => ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 10, objective: 'masked' }), /masked objective needs the nextitnet backbone/);
    assert.throws(() => ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 10, dropout: 1 }), /dropout must be in \[0, 1\)/);
  });
});
