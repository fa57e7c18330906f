import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, Tensor, backend, dropout, segmentMax, segmentSoftmax, segmentWeightedSum } from '../../src/index.js';
import { gradCheck, randomTensor } from '../helpers/gradcheck.js';

const rng = new Rng(7);
// Three segments of 4, 0 and 5 rows.
const offsets = Int32Array.from([0, 4, 4, 9]);
const valid = Uint8Array.from([0, 1, 1, 1, 0, 0, 1, 1, 1]);

function segments(): [number, number][] {
  return Array.from({ length: offsets.length - 1 }, (_, s) => [offsets[s]!, offsets[s + 1]!]);
}

function softmaxRef(z: Float64Array): Float64Array {
  const p = new Float64Array(z.length);
  for (const [b, e] of segments()) {
    let m = -Infinity;
    for (let r = b; r < e; r++) if (valid[r]) m = Math.max(m, z[r]!);
    let sum = 0;
    for (let r = b; r < e; r++) if (valid[r]) sum += (p[r] = Math.exp(z[r]! - m));
    for (let r = b; r < e; r++) p[r] = sum > 0 ? p[r]! / sum : 0;
  }
  return p;
}

describe('segment pooling ops', () => {
  it('weighted sum: gradient to rows and to weights', () => {
    const x = randomTensor(rng, [9, 3]);
    const w = randomTensor(rng, [9]);
    gradCheck(rng, {
      inputs: [x, w],
      kernel: ([x, w]) => segmentWeightedSum(x!, w!, offsets),
      reference: ([x, w]) => {
        const y = new Float64Array(3 * 3);
        segments().forEach(([b, e], s) => {
          for (let r = b; r < e; r++) for (let c = 0; c < 3; c++) y[s * 3 + c] += w![r]! * x![r * 3 + c]!;
        });
        return y;
      },
      kernelFiniteDifference: true,
    });
  });

  it('masked max: padding rows never win, an empty segment gives 0', () => {
    const x = randomTensor(rng, [9, 3]);
    x.data.fill(100, 0, 3); // a huge padding row must be ignored
    gradCheck(rng, {
      inputs: [x],
      kernel: ([x]) => segmentMax(x!, valid, offsets),
      reference: ([x]) => {
        const y = new Float64Array(9);
        segments().forEach(([b, e], s) => {
          for (let c = 0; c < 3; c++) {
            let m = -Infinity;
            for (let r = b; r < e; r++) if (valid[r]) m = Math.max(m, x![r * 3 + c]!);
            y[s * 3 + c] = m === -Infinity ? 0 : m;
          }
        });
        return y;
      },
    });
    const y = segmentMax(x, valid, offsets).data;
    assert.ok(y.slice(0, 3).every((v) => v < 100), 'a padding row was pooled');
    assert.deepEqual(Array.from(y.slice(3, 6)), [0, 0, 0]);
  });

  it('segment softmax: sums to 1 over valid rows, 0 on padding', () => {
    const z = randomTensor(rng, [9]);
    gradCheck(rng, {
      inputs: [z],
      kernel: ([z]) => segmentSoftmax(z!, valid, offsets),
      reference: ([z]) => softmaxRef(z!),
      kernelFiniteDifference: true,
    });
    const p = segmentSoftmax(z, valid, offsets).data;
    assert.equal(p[0], 0);
    assert.ok(Math.abs(p.slice(0, 4).reduce((a, b) => a + b, 0) - 1) < 1e-6);
    assert.ok(Math.abs(p.slice(4, 9).reduce((a, b) => a + b, 0) - 1) < 1e-6);
  });

  it('is the same for 1 and 2 threads on segments large enough to split', () => {
    const k = backend();
    const before = k.info().threads;
    const S = 512;
    const L = 64;
    const off = Int32Array.from({ length: S + 1 }, (_, s) => s * L);
    const x = randomTensor(rng, [S * L, 32], false);
    const w = randomTensor(rng, [S * L], false);
    const run = (threads: number) => {
      k.setThreads(threads);
      k.resetPoolStats();
      const y = Float32Array.from(segmentWeightedSum(x, w, off).data);
      return { y, shared: k.poolStats().sharedTasks };
    };
    try {
      const [one, two] = [run(1), run(2)];
      assert.deepEqual(one.y, two.y);
      assert.ok(two.shared > 1, `two threads shared ${two.shared} pool tasks: the work was not split`);
    } finally {
      k.setThreads(before);
    }
  });

  it('bad offsets are a clear error, not a crash', () => {
    const x = Tensor.zeros([4, 2]);
    const w = Tensor.zeros([4]);
    assert.throws(() => segmentWeightedSum(x, w, Int32Array.from([0, 3])), /offsets end at 3, expected 4/);
    assert.throws(() => segmentWeightedSum(x, w, Int32Array.from([0, 3, 2, 4])), /must not decrease/);
    assert.throws(() => segmentWeightedSum(x, w, Int32Array.from([1, 4])), /offsets\[0\] must be 0/);
  });
});

describe('dropout', () => {
  it('zeroes about `rate` of the elements, scales the rest, and passes the same mask back', () => {
    const x = randomTensor(rng, [100, 50]);
    const y = dropout(x, 0.3, new Rng(1));
    const zeros = y.data.filter((v) => v === 0).length;
    assert.ok(Math.abs(zeros / y.size - 0.3) < 0.03, `dropped share ${zeros / y.size}`);
    const i = y.data.findIndex((v) => v !== 0);
    assert.ok(Math.abs(y.data[i]! - x.data[i]! / 0.7) < 1e-5);
    assert.deepEqual(dropout(x, 0.3, new Rng(1)).data, y.data, 'same seed, same mask');
    assert.throws(() => dropout(x, 1, new Rng(1)), /rate must be in \[0, 1\)/);
  });
});
