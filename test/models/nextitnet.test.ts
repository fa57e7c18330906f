import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { encodeHistories } from '../../src/models/encoder.js';
import { NextItNet } from '../../src/models/nextitnet.js';
import { Rng, noGrad } from '../../src/tensor/index.js';

const small = (objective: 'causal' | 'masked') =>
  ModelConfigSchema.parse({ numItems: 20, dim: 8, blocks: 2, maxLen: 10, objective });

describe('NextItNet', () => {
  it('uses the paper defaults: 64 channels, 8 blocks, dilations 1,4 (second conv doubled), kernel 3, eps 1e-8', () => {
    const config = ModelConfigSchema.parse({ numItems: 100 });
    const model = new NextItNet(config, new Rng(1));
    assert.equal(model.blocks.length, 8);
    assert.deepEqual(model.blocks.map((b) => [b.conv1.dilation, b.conv2.dilation]), [[1, 2], [4, 8], [1, 2], [4, 8], [1, 2], [4, 8], [1, 2], [4, 8]]);
    assert.deepEqual(model.blocks[0]!.conv1.weight.shape, [3, 64, 64]);
    assert.equal(model.blocks[0]!.ln1.eps, 1e-8);
    const init = model.blocks[0]!.conv1.weight.data;
    const std = Math.sqrt(init.reduce((s, v) => s + v * v, 0) / init.length);
    assert.ok(std > 0.015 && std < 0.02 && init.every((v) => Math.abs(v) <= 0.04), `init std ${std}`);
  });

  it('names every parameter by its path (the checkpoint keys)', () => {
    const names = new NextItNet(small('causal'), new Rng(1)).parameters().map((p) => p.name);
    assert.deepEqual(names.slice(0, 5), ['output.weight', 'output.bias', 'items.weight', 'block.0.conv1.weight', 'block.0.conv1.bias']);
    assert.ok(names.includes('block.1.ln2.gamma'));
    assert.equal(new Set(names).size, names.length);
  });

  it('the causal model never looks ahead: changing a later item leaves earlier hidden states unchanged', () => {
    const model = new NextItNet(small('causal'), new Rng(2));
    const a = Int32Array.from([0, 0, 3, 4, 5, 6, 7, 8, 9, 10]);
    const b = Int32Array.from(a);
    b[7] = 15;
    const [ha, hb] = noGrad(() => [model.hidden(a, 1, 10).data, model.hidden(b, 1, 10).data]);
    assert.deepEqual(ha.subarray(0, 7 * 8), hb.subarray(0, 7 * 8));
    assert.notDeepEqual(ha.subarray(7 * 8), hb.subarray(7 * 8));
  });

  it('the masked model sees both directions (centred convolutions)', () => {
    const model = new NextItNet(small('masked'), new Rng(2));
    const a = Int32Array.from([0, 0, 3, 4, 5, 6, 7, 8, 9, 10]);
    const b = Int32Array.from(a);
    b[7] = 15;
    const [ha, hb] = noGrad(() => [model.hidden(a, 1, 10).data, model.hidden(b, 1, 10).data]);
    assert.notDeepEqual(ha.subarray(5 * 8, 6 * 8), hb.subarray(5 * 8, 6 * 8));
    assert.equal(model.items.ids!.weight.shape[0], 22, 'padding + 20 items + mask token');
    assert.equal(model.outputWeight.shape[0], 21, 'the mask token is never predicted');
  });

  it('different histories give different user vectors (no collapse at init)', () => {
    const model = new NextItNet(small('causal'), new Rng(3));
    const v = encodeHistories(model, [Int32Array.from([1, 2, 3]), Int32Array.from([4, 5, 6])]);
    assert.notDeepEqual(v.subarray(0, 8), v.subarray(8, 16));
  });
});
