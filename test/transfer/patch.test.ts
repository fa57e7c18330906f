import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { UserEncoder } from '../../src/models/encoder.js';
import { createEncoder } from '../../src/models/encoders.js';
import { NextItNet } from '../../src/models/nextitnet.js';
import { Parameter, Rng, backward, noGrad, noteParameterWrite, sumProduct } from '../../src/index.js';
import { BACKBONE_INSERTIONS, graftPatches, removePatches } from '../../src/transfer/insertion.js';
import { ModelPatch } from '../../src/transfer/patch.js';
import { STRATEGIES, applyStrategy } from '../../src/transfer/strategies.js';

const config = ModelConfigSchema.parse({ numItems: 30, dim: 16, blocks: 3, maxLen: 6 });
const ids = Int32Array.from([0, 3, 4, 5, 6, 7, 0, 0, 9, 8, 7, 6]);
const hidden = (m: UserEncoder) => noGrad(() => m.hidden(ids, 2, 6).data);
const sasrec = ModelConfigSchema.parse({ backbone: 'sasrec', numItems: 30, dim: 16, layers: 2, heads: 2, maxLen: 6 });
const bert4rec = ModelConfigSchema.parse({ backbone: 'bert4rec', numItems: 30, dim: 16, maxLen: 6 });

describe('model patches', () => {
  it('a text item encoder gets a token-table patch and a projection patch: zero at the start, and a token\'s correction moves exactly the items that hold it', () => {
    const tokens = { offsets: Int32Array.from([0, 0, 2, 3, 5]), tokens: Int32Array.from([1, 70, 2, 70, 300]) };
    const text = ModelConfigSchema.parse({ numItems: 3, dim: 8, blocks: 1, maxLen: 4, itemEncoder: 'text', textBuckets: 512 });
    const model = createEncoder(text, new Rng(4), tokens);
    const items = () => noGrad(() => Array.from(model.items.table().data));
    const plain = items();
    const patches = graftPatches(model, 'serial-each-conv', new Rng(5), { zeroInitUp: true });
    const tokenPatch = patches.flatMap((p) => p.parameters()).find((p) => p.name === 'patch.item_tokens.weight')!;
    assert.deepEqual(tokenPatch.shape, [32, 8], 'a sixteenth of the 512 buckets');
    assert.deepEqual(items(), plain);
    // Token 300 folds onto row 300 mod 32 = 12; only item 3 (tokens 70, 300) holds it.
    tokenPatch.data.fill(0.5, 12 * 8, 13 * 8);
    noteParameterWrite();
    const moved = items();
    const row = (v: number[], i: number) => v.slice(i * 8, (i + 1) * 8);
    for (const i of [1, 2]) assert.deepEqual(row(moved, i), row(plain, i), `item ${i} has no token 300`);
    assert.notDeepEqual(row(moved, 3), row(plain, 3));
    const trained = applyStrategy('peterrec', model, patches, []).map((p) => p.name);
    assert.ok(trained.includes('patch.item_tokens.weight') && trained.includes('item_text.norm.gamma'), trained.join(', '));
    assert.ok(!trained.includes('item_text.tokens.weight'), 'the token table stays frozen');
    removePatches(model);
    assert.deepEqual(items(), plain);
  });

  it('a patch at C=64 has 2,128 parameters (Down 64→16, Up 16→64, with biases)', () => {
    const p = new ModelPatch('p', 64, new Rng(1));
    assert.equal(p.parameters().reduce((n, q) => n + q.size, 0), 2128);
  });

  const configs = { nextitnet: config, sasrec, bert4rec } as const;
  for (const backbone of ['nextitnet', 'sasrec', 'bert4rec'] as const) {
    for (const insertion of BACKBONE_INSERTIONS[backbone]) {
      it(`${backbone} ${insertion}: zero-initialised patches leave the network unchanged (bit-identical); trained ones change it`, () => {
        const model = createEncoder(configs[backbone], new Rng(4));
        const plain = hidden(model);
        const patches = graftPatches(model, insertion, new Rng(5), { zeroInitUp: true });
        assert.ok(patches.length > 0);
        assert.deepEqual(hidden(model), plain);
        graftPatches(model, insertion, new Rng(5));
        assert.notDeepEqual(hidden(model), plain);
        removePatches(model);
        assert.deepEqual(hidden(model), plain);
      });
    }
  }

  it('names patch parameters by block and position', () => {
    const model = new NextItNet(config, new Rng(4));
    const names = graftPatches(model, 'serial-each-conv', new Rng(1)).flatMap((p) => p.parameters().map((q) => q.name));
    assert.ok(names.includes('patch.0.conv1.down.weight'));
    assert.ok(names.includes('patch.2.conv2.up.bias'));
    const sasrecNames = graftPatches(createEncoder(sasrec, new Rng(4)), 'serial-each-sublayer', new Rng(1))
      .flatMap((p) => p.parameters().map((q) => q.name));
    assert.ok(sasrecNames.includes('patch.0.attention.down.weight') && sasrecNames.includes('patch.1.feedforward.up.bias'));
  });

  it('refuses an insertion that does not fit the backbone, naming the ones that do', () => {
    assert.throws(() => graftPatches(createEncoder(sasrec, new Rng(4)), 'serial-each-conv', new Rng(1)),
      /serial-each-conv does not apply to a sasrec model \(choose from serial-each-sublayer, parallel-each-sublayer\)/);
  });
});

describe('fine-tuning strategies', () => {
  const setup = (strategy: (typeof STRATEGIES)[number]) => {
    const model = new NextItNet(config, new Rng(4));
    const patches = graftPatches(model, 'serial-each-conv', new Rng(5));
    const head = [new Parameter('head.weight', new Rng(6).fillUniform(new Float32Array(16 * 2), -0.1, 0.1), [16, 2])];
    const trainable = applyStrategy(strategy, model, patches, head);
    return { model, patches, head, trainable };
  };

  it('peterrec trains patches, the second LayerNorms and the head only; frozen weights get no gradient', () => {
    const { model, patches, trainable } = setup('peterrec');
    const names = new Set(trainable.map((p) => p.name));
    assert.ok(names.has('block.0.ln2.gamma') && names.has('head.weight') && names.has('patch.1.conv2.up.weight'));
    assert.ok(!names.has('block.0.ln1.gamma') && !names.has('block.0.conv1.weight') && !names.has('items.weight'));
    const h = model.hidden(ids, 2, 6);
    backward(sumProduct(h, new Rng(2).fillUniform(new Float32Array(h.size), -1, 1)));
    for (const p of [...model.parameters(), ...patches.flatMap((q) => q.parameters())]) {
      if (names.has(p.name)) assert.ok(p.grad, `${p.name} should get a gradient`);
      else assert.equal(p.grad, null, `${p.name} is frozen and must get no gradient`);
    }
  });

  it('each strategy trains what it says', () => {
    const count = (s: (typeof STRATEGIES)[number]) => setup(s).trainable.reduce((n, p) => n + p.size, 0);
    assert.equal(count('fine-cls'), 32);
    const perBlock = setup('fine-all').model.blocks[0]!.parameters().reduce((n, p) => n + p.size, 0);
    assert.equal(count('fine-last1'), perBlock + 32);
    assert.equal(count('fine-last2'), 2 * perBlock + 32);
    assert.ok(count('peter-zero') > count('fine-all'));
    assert.ok(count('peterrec') < count('fine-all'));
  });
});
