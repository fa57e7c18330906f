import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Adam, AutogradError, Parameter, Rng, Tensor, add, backward, gelu, isDebugMode, linear,
  relu, scratchScope, setDebugMode, sumProduct,
} from '../../src/index.js';
import { randomTensor } from '../helpers/gradcheck.js';

const rng = new Rng(21);
const wasDebug = isDebugMode();
before(() => setDebugMode(true));
after(() => setDebugMode(wasDebug));

/** A step that fills pooled buffers of n floats with `value` (as the next training step would reuse them). */
function scopeWriting(n: number, value: number): void {
  scratchScope(() => {
    const t = Tensor.empty([n]);
    t.data.fill(value);
  });
}

describe('released memory and graphs', () => {
  it('a tensor returned from a scratchScope keeps its own memory', () => {
    const x = randomTensor(rng, [64], false);
    const expected = gelu(x).data;
    const y = scratchScope(() => gelu(x));
    const pair = scratchScope(() => [relu(x), gelu(x)] as const);
    scopeWriting(64, 7);
    scopeWriting(64, 7);
    assert.deepEqual(y.data, expected);
    assert.deepEqual(pair[1].data, expected);
  });

  it('debug mode: a tensor that escapes its scratchScope another way throws on use; recycled buffers hold NaN', () => {
    const x = randomTensor(rng, [32], false);
    let escaped: Tensor | null = null;
    let scratch: Float32Array | null = null;
    scratchScope(() => {
      escaped = gelu(x);
      scratch = escaped.data;
    });
    assert.throws(() => escaped!.data, (e: unknown) => e instanceof AutogradError && /used after its buffer was recycled/.test(e.message));
    assert.ok(scratch!.every(Number.isNaN), 'the recycled buffer is filled with NaN');
    assert.throws(() => add(escaped!, x), AutogradError);
  });

  it('a second backward through a released graph throws instead of giving no gradient', () => {
    const w = randomTensor(rng, [4]);
    const h = gelu(w);
    const loss = sumProduct(h, new Float32Array(4).fill(1));
    backward(loss);
    assert.throws(() => backward(loss), (e: unknown) => e instanceof AutogradError && /earlier backward\(\) released/.test(e.message));
    // Reusing an intermediate of a released graph in a new loss is the same mistake.
    assert.throws(() => backward(sumProduct(h, new Float32Array(4).fill(1))), AutogradError);
  });

  it('backward of a graph recorded inside a scratchScope that has ended throws', () => {
    const w = randomTensor(rng, [8]);
    const loss = scratchScope(() => sumProduct(gelu(w), new Float32Array(8).fill(1)));
    assert.throws(() => backward(loss), (e: unknown) => e instanceof AutogradError && /scratchScope that has ended/.test(e.message));
  });

  it('a row-sparse parameter given a gradient by an op that marks no rows is updated densely and its gradient consumed', () => {
    const table = new Parameter('table', rng.fillUniform(new Float32Array(3 * 2), -1, 1), [3, 2], { rowSparse: true });
    const before = Float32Array.from(table.data);
    const opt = new Adam([table], { lr: 0.1 });
    backward(sumProduct(linear(Tensor.from([1, 2, 3], [1, 3]), table, null), Float32Array.from([1, -1])));
    assert.ok(table.grad!.some((g) => g !== 0));
    opt.step();
    assert.ok(table.data.every((v, i) => v !== before[i]), 'every row moved');
    assert.ok(table.grad!.every((g) => g === 0), 'the step consumed the gradient');
  });

  it('debug mode: Adam refuses a row-sparse gradient written without marking its rows', () => {
    const table = new Parameter('table', new Float32Array(4), [2, 2], { rowSparse: true });
    table.gradBuffer()[3] = 1;
    assert.throws(() => new Adam([table], { lr: 0.1 }).step(), /row-sparse gradient is non-zero but no rows are marked/);
  });
});
