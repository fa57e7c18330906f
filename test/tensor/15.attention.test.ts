import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Rng, Tensor, attention, backend, backward, noGrad, sumProduct } from '../../src/index.js';
import { assertClose, gradCheck, randomTensor } from '../helpers/gradcheck.js';
import { attentionRef } from '../helpers/reference.js';

const rng = new Rng(2018);
const k = backend();
const initialThreads = k.info().threads;
after(() => k.setThreads(initialThreads));

/** Left padding: row b has pads[b] padding positions before its items. */
function leftPadded(B: number, L: number, pads: readonly number[]): Uint8Array {
  return Uint8Array.from({ length: B * L }, (_, i) => (i % L >= pads[Math.floor(i / L)]! ? 1 : 0));
}

describe('multi-head attention kernel', () => {
  for (const causal of [true, false]) {
    for (const [H, dh] of [[1, 4], [2, 3]] as const) {
      it(`gradient check: ${causal ? 'causal' : 'bidirectional'}, ${H} head(s) of ${dh}, padding keys masked`, () => {
        const [B, L] = [3, 5];
        const valid = leftPadded(B, L, [0, 2, 4]);
        const [q, kk, v] = [0, 1, 2].map(() => randomTensor(rng, [B, L, H * dh]));
        gradCheck(rng, {
          inputs: [q!, kk!, v!],
          kernel: ([q, k, v]) => attention(q!, k!, v!, { heads: H, causal, keyValid: valid }),
          reference: ([q, k, v]) => attentionRef(q!, k!, v!, valid, B, L, H, dh, causal),
          kernelFiniteDifference: true,
        });
      });
    }
  }

  it('a causal query never reads a later key: changing later positions leaves earlier outputs bit-identical', () => {
    const [B, L, W] = [2, 7, 6];
    const valid = new Uint8Array(B * L).fill(1);
    const [q, kk, v] = [0, 1, 2].map(() => randomTensor(rng, [B, L, W], false));
    const before = noGrad(() => attention(q!, kk!, v!, { heads: 2, causal: true, keyValid: valid })).data.slice();
    for (const t of [kk!, v!, q!]) for (let i = 4 * W; i < L * W; i++) t.data[i] = 5 * rng.uniform();
    const after = noGrad(() => attention(q!, kk!, v!, { heads: 2, causal: true, keyValid: valid })).data;
    assert.deepEqual(after.subarray(0, 4 * W), before.subarray(0, 4 * W));
    assert.notDeepEqual(after.subarray(4 * W, L * W), before.subarray(4 * W, L * W), 'the changed positions did change');
  });

  it('rows with no allowed key (padding under a causal mask, an all-padding sequence) give zeros and zero gradients, never NaN', () => {
    const [B, L, H, dh] = [2, 4, 2, 2];
    const valid = leftPadded(B, L, [2, 4]);
    const [q, kk, v] = [0, 1, 2].map(() => randomTensor(rng, [B, L, H * dh]));
    const out = attention(q!, kk!, v!, { heads: H, causal: true, keyValid: valid });
    for (let i = 0; i < out.size; i++) assert.ok(Number.isFinite(out.data[i]!), `output ${i} is ${out.data[i]}`);
    const W = H * dh;
    for (const row of [0, 1, 4, 5, 6, 7]) assert.ok(out.data.subarray(row * W, (row + 1) * W).every((x) => x === 0), `row ${row}`);
    backward(sumProduct(out, new Float32Array(out.size).fill(1)));
    for (const t of [q!, kk!, v!]) {
      assert.ok(t.grad!.every((x) => Number.isFinite(x)));
      assert.ok(t.grad!.subarray(L * W).every((x) => x === 0), 'the all-padding sequence gets no gradient');
    }
  });

  it('a sequence of 512 positions: sampled rows match the float64 reference and gradients are finite', () => {
    const [B, L, H, dh] = [1, 512, 2, 4];
    const valid = leftPadded(B, L, [100]);
    const [q, kk, v] = [0, 1, 2].map(() => randomTensor(rng, [B, L, H * dh]));
    const out = attention(q!, kk!, v!, { heads: H, causal: true, keyValid: valid });
    const rows = [0, 99, 100, 101, 300, 511];
    const ref = attentionRef(Float64Array.from(q!.data), Float64Array.from(kk!.data), Float64Array.from(v!.data), valid, B, L, H, dh, true, rows);
    const W = H * dh;
    for (const r of rows) assertClose(out.data.subarray(r * W, (r + 1) * W), ref.subarray(r * W, (r + 1) * W), 1e-4, `row ${r}`);
    backward(sumProduct(out, new Float32Array(out.size).fill(1)));
    for (const t of [q!, kk!, v!]) assert.ok(t.grad!.every((x) => Number.isFinite(x)));
  });

  it('splits (sequence, head) pairs across threads and gives bit-identical results for 1 and 2 threads', () => {
    const [B, L, H, dh] = [8, 32, 2, 8];
    const valid = leftPadded(B, L, [0, 3, 7, 31, 1, 0, 16, 2]);
    const inputs = [0, 1, 2].map(() => randomTensor(rng, [B, L, H * dh]));
    const w = new Float32Array(B * L * H * dh);
    rng.fillUniform(w, -1, 1);
    const run = () => {
      for (const t of inputs) t.grad = null;
      const out = attention(inputs[0]!, inputs[1]!, inputs[2]!, { heads: H, causal: true, keyValid: valid });
      backward(sumProduct(out, w));
      return [out.data, ...inputs.map((t) => Float32Array.from(t.grad!))];
    };
    k.setThreads(1);
    const one = run();
    k.setThreads(2);
    k.resetPoolStats();
    const two = run();
    assert.ok(k.poolStats().sharedTasks > 1, 'the work was split across threads');
    one.forEach((a, i) => assert.deepEqual(two[i], a, `tensor ${i}`));
  });

  it('rejects heads that do not divide the channels and a key mask of the wrong length', () => {
    const x = Tensor.zeros([1, 3, 6]);
    assert.throws(() => attention(x, x, x, { heads: 4, causal: true, keyValid: new Uint8Array(3) }), /4 heads do not divide 6/);
    assert.throws(() => attention(x, x, x, { heads: 2, causal: true, keyValid: new Uint8Array(2) }), /keyValid has 2 entries/);
  });
});
