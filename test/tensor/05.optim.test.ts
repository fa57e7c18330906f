import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Adam, AdamW, Parameter, Rng, backward, clipGradNorm, embedding, linear, sumProduct, Tensor,
} from '../../src/index.js';

function adamReference(p: number, grads: number[], lr: number, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0, decoupled = false): number {
  let m = 0;
  let v = 0;
  grads.forEach((g0, i) => {
    const t = i + 1;
    let g = g0;
    if (wd && decoupled) p -= lr * wd * p;
    if (wd && !decoupled) g += wd * p;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    p -= (lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
  });
  return p;
}

describe('optimizers', () => {
  for (const [name, make, wd, decoupled] of [
    ['Adam', (ps: Parameter[]) => new Adam(ps, { lr: 0.1 }), 0, false],
    ['Adam with L2 weight decay', (ps: Parameter[]) => new Adam(ps, { lr: 0.1, weightDecay: 0.05 }), 0.05, false],
    ['AdamW', (ps: Parameter[]) => new AdamW(ps, { lr: 0.1, weightDecay: 0.05 }), 0.05, true],
  ] as const) {
    it(`${name} matches the update rule over three steps and consumes the gradient`, () => {
      const p = new Parameter('w', Float32Array.from([0.5, -1.5]), [2]);
      const opt = make([p]);
      const grads = [[0.2, -0.4], [0.1, 0.3], [-0.5, 0.05]];
      for (const g of grads) {
        p.gradBuffer().set(g);
        opt.step();
        assert.deepEqual(Array.from(p.grad!), [0, 0]);
      }
      const expected = [0, 1].map((i) => adamReference([0.5, -1.5][i]!, grads.map((g) => g[i]!), 0.1, 0.9, 0.999, 1e-8, wd, decoupled));
      assert.ok(Math.abs(p.data[0]! - expected[0]!) < 1e-6 && Math.abs(p.data[1]! - expected[1]!) < 1e-6,
        `${Array.from(p.data)} vs ${expected}`);
      assert.equal(opt.steps, 3);
    });
  }

  it('row-sparse Adam moves only the rows the batch touched (lazy Adam)', () => {
    const rng = new Rng(3);
    const table = new Parameter('items', rng.fillUniform(new Float32Array(6 * 2), -1, 1), [6, 2], { rowSparse: true });
    const before = Float32Array.from(table.data);
    const opt = new Adam([table], { lr: 0.01 });
    backward(sumProduct(embedding(table, Int32Array.from([1, 4]), [2]), Float32Array.from([1, 2, 3, 4])));
    opt.step();
    for (let r = 0; r < 6; r++) {
      const moved = table.data[r * 2] !== before[r * 2] || table.data[r * 2 + 1] !== before[r * 2 + 1];
      assert.equal(moved, r === 1 || r === 4, `row ${r}`);
    }
    assert.equal(table.touchedRows!.some((v) => v !== 0), false, 'touched rows are cleared after the step');
  });

  it('frozen parameters are never updated', () => {
    const frozen = new Parameter('frozen', Float32Array.from([1, 2, 3, 4]), [2, 2], { requiresGrad: false });
    const bias = new Parameter('bias', Float32Array.from([0, 0]), [2]);
    const opt = new Adam([frozen, bias], { lr: 0.1 });
    backward(sumProduct(linear(Tensor.from([1, 1], [1, 2]), frozen, bias), Float32Array.from([1, -1])));
    opt.step();
    assert.deepEqual(Array.from(frozen.data), [1, 2, 3, 4]);
    assert.notDeepEqual(Array.from(bias.data), [0, 0]);
  });

  it('optimizer state round-trips so a resumed run continues identically', () => {
    const run = (steps: number, resumeAt?: number) => {
      let p = new Parameter('w', Float32Array.from([1, -1]), [2]);
      let opt = new Adam([p], { lr: 0.05 });
      for (let s = 0; s < steps; s++) {
        if (s === resumeAt) {
          const state = opt.state();
          p = new Parameter('w', Float32Array.from(p.data), [2]);
          opt = new Adam([p], { lr: 0.05 });
          opt.loadState(state);
        }
        p.gradBuffer().set([Math.sin(s), Math.cos(s)]);
        opt.step();
      }
      return Array.from(p.data);
    };
    assert.deepEqual(run(6, 3), run(6));
  });

  it('clipGradNorm scales the global norm down to the limit and reports the norm before', () => {
    const a = new Parameter('a', new Float32Array(2), [2]);
    const b = new Parameter('b', new Float32Array(1), [1]);
    a.gradBuffer().set([3, 0]);
    b.gradBuffer().set([4]);
    assert.ok(Math.abs(clipGradNorm([a, b], 1) - 5) < 1e-9);
    const norm = Math.hypot(a.grad![0]!, a.grad![1]!, b.grad![0]!);
    assert.ok(Math.abs(norm - 1) < 1e-5);
    b.gradBuffer()[0] = NaN;
    assert.ok(Number.isNaN(clipGradNorm([a, b], 1)));
  });

  it('clipGradNorm reads and scales only the touched rows of a row-sparse table', () => {
    const table = new Parameter('table', new Rng(4).fillUniform(new Float32Array(5 * 2), -1, 1), [5, 2], { rowSparse: true });
    backward(sumProduct(embedding(table, Int32Array.from([1, 3]), [2]), Float32Array.from([3, 0, 0, 4])));
    // An untouched row holds garbage: a dense pass would read it.
    table.grad![0] = Number.NaN;
    assert.ok(Math.abs(clipGradNorm([table], 1) - 5) < 1e-9);
    assert.ok(Math.abs(Math.hypot(table.grad![2]!, table.grad![7]!) - 1) < 1e-5);
    assert.ok(Number.isNaN(table.grad![0]!), 'untouched rows are not scaled');
  });
});
