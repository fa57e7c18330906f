import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigSchema } from '../../src/config/schema.js';
import { encodeHistories } from '../../src/models/encoder.js';
import { NextItNet } from '../../src/models/nextitnet.js';
import { POOLINGS, UserReading, userInputs } from '../../src/models/user-vectors.js';
import { Rng, Tensor, noGrad } from '../../src/tensor/index.js';

const config = ModelConfigSchema.parse({ numItems: 30, dim: 8, blocks: 2, maxLen: 6 });
const model = new NextItNet(config, new Rng(5));
const query = new Tensor(new Rng(6).fillNormal(new Float32Array(8), 1), [8, 1]);
const long = Int32Array.from({ length: 15 }, (_, i) => (i % 30) + 1);

function vectors(histories: Int32Array[], reading: UserReading): Float32Array {
  return encodeHistories(model, histories, reading, query);
}

describe('user vectors: pooling over positions and windows', () => {
  it('cuts a history into windows from the end and marks padding invalid', () => {
    const inputs = userInputs([long, Int32Array.from([7, 8])], 6, 6, { pooling: 'mean', windows: 0 }, (w) => {
      const ids = new Int32Array(w.length * 6);
      w.forEach((s, r) => ids.set(s, r * 6 + 6 - s.length));
      return ids;
    });
    assert.equal(inputs.rows, 4, '15 items → windows of 3, 6, 6; 2 items → 1');
    assert.deepEqual(Array.from(inputs.offsets), [0, 18, 24]);
    assert.deepEqual(Array.from(inputs.ids.subarray(0, 6)), [0, 0, 0, 1, 2, 3]);
    assert.deepEqual(Array.from(inputs.ids.subarray(12, 18)), [10, 11, 12, 13, 14, 15]);
    assert.equal(inputs.valid.reduce((a, b) => a + b, 0), 17);
    assert.deepEqual(Array.from(inputs.last), [17, 23]);
  });

  it('last pooling of one window is the hidden state at the last position', () => {
    const h = noGrad(() => model.hidden(Int32Array.from([0, 0, 0, 7, 8, 9]), 1, 6).data);
    const v = vectors([Int32Array.from([7, 8, 9])], { pooling: 'last', windows: 1 });
    // The encoder pads a batch only to its longest history (3 here, not 6), so a BLAS GEMM of another shape may
    // round the last bit differently: equal within float tolerance, not bit for bit.
    for (let c = 0; c < 8; c++) assert.ok(Math.abs(v[c]! - h[5 * 8 + c]!) < 1e-5, `channel ${c}: ${v[c]} vs ${h[5 * 8 + c]}`);
  });

  it('mean pooling is the mean of the real positions; padding never counts', () => {
    const h = noGrad(() => model.hidden(Int32Array.from([0, 0, 0, 7, 8, 9]), 1, 6).data);
    const mean = Array.from({ length: 8 }, (_, c) => (h[3 * 8 + c]! + h[4 * 8 + c]! + h[5 * 8 + c]!) / 3);
    const v = vectors([Int32Array.from([7, 8, 9])], { pooling: 'mean', windows: 1 });
    mean.forEach((m, c) => assert.ok(Math.abs(v[c]! - m) < 1e-6));
  });

  for (const pooling of POOLINGS) {
    it(`${pooling}: a history's vector does not depend on the other histories in its batch`, () => {
      const short = Int32Array.from([4, 5]);
      const alone = vectors([short], { pooling, windows: 0 });
      const together = vectors([long, short], { pooling, windows: 0 }).subarray(8);
      for (let c = 0; c < 8; c++) assert.ok(Math.abs(alone[c]! - together[c]!) < 1e-5, `${pooling} channel ${c}`);
    });
  }

  it('reading more windows sees older items; one window does not', () => {
    const older = Int32Array.from(long);
    older[0] = 29; // only in the first (oldest) window
    for (const pooling of ['mean', 'max', 'attention'] as const) {
      assert.deepEqual(vectors([long], { pooling, windows: 1 }), vectors([older], { pooling, windows: 1 }), pooling);
      assert.notDeepEqual(vectors([long], { pooling, windows: 0 }), vectors([older], { pooling, windows: 0 }), pooling);
    }
  });

  it('attention without a query and a negative window count are clear errors', () => {
    assert.throws(() => encodeHistories(model, [long], { pooling: 'attention', windows: 1 }), /attention pooling needs a query/);
    assert.throws(() => encodeHistories(model, [long], { pooling: 'mean', windows: -1 }), /windows must be an integer ≥ 0/);
  });
});
