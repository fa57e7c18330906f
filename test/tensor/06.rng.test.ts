import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/index.js';

describe('seeded RNG', () => {
  it('the same seed gives the same stream; another seed gives another', () => {
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return [r.uniform(), r.normal(), r.int(0, 1000), r.truncatedNormal(0.02)];
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
  });

  it('a saved state resumes the stream exactly', () => {
    const r = new Rng(9);
    for (let i = 0; i < 10; i++) r.uniform();
    const resumed = new Rng({ state: r.state() });
    assert.deepEqual([r.uniform(), r.int(0, 50), r.normal()], [resumed.uniform(), resumed.int(0, 50), resumed.normal()]);
  });

  it('draws have the right ranges and moments', () => {
    const r = new Rng(1);
    const n = 20000;
    const normals = r.fillNormal(new Float32Array(n), 2, 1);
    const mean = normals.reduce((s, v) => s + v, 0) / n;
    const std = Math.sqrt(normals.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
    assert.ok(Math.abs(mean - 1) < 0.05 && Math.abs(std - 2) < 0.05, `mean ${mean} std ${std}`);
    const trunc = r.fillTruncatedNormal(new Float32Array(n), 0.02);
    assert.ok(trunc.every((v) => Math.abs(v) <= 0.04 + 1e-9));
    const tstd = Math.sqrt(trunc.reduce((s, v) => s + v * v, 0) / n);
    assert.ok(Math.abs(tstd - 0.02 * 0.8796) < 0.001, `truncated std ${tstd}`); // std of N(0,1) cut at ±2
    const ints = Array.from({ length: n }, () => r.int(3, 8));
    assert.ok(ints.every((v) => v >= 3 && v < 8));
    assert.equal(new Set(ints).size, 5);
    const u = r.fillUniform(new Float32Array(n), -1, 1);
    assert.ok(u.every((v) => v >= -1 && v < 1));
  });

  it('shuffle permutes in place deterministically', () => {
    const a = new Rng(5).shuffle(Int32Array.from({ length: 20 }, (_, i) => i));
    const b = new Rng(5).shuffle(Int32Array.from({ length: 20 }, (_, i) => i));
    assert.deepEqual(a, b);
    assert.deepEqual(Array.from(a).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
  });

  it('refuses a non-integer seed and an empty integer range', () => {
    assert.throws(() => new Rng(1.5), /seed must be an integer/);
    assert.throws(() => new Rng(1).int(4, 4), /empty range/);
  });
});
