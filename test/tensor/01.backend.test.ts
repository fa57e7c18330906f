import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { KernelError, backend } from '../../src/index.js';

const k = backend();

describe('native backend', () => {
  it('loads and reports its configuration', () => {
    const info = k.info();
    assert.ok(['blas', 'builtin'].includes(info.gemmBackend));
    assert.ok(['avx512', 'avx2', 'portable'].includes(info.builtinIsa));
    assert.ok(info.threads >= 1);
    if (info.gemmBackend === 'blas') assert.notEqual(info.blasPath, '');
    if (process.env.GRAFTREC_BLAS === 'builtin') assert.equal(info.gemmBackend, 'builtin');
  });

  it('rejects a wrong buffer type with a KernelError naming the kernel and argument', () => {
    assert.throws(() => k.reluForward(new Float64Array(4) as unknown as Float32Array, new Float32Array(4)),
      (e: unknown) => e instanceof KernelError && /reluForward: a must be a Float32Array/.test(e.message));
  });

  it('rejects buffers whose length does not match the shape', () => {
    assert.throws(() => k.layerNormForward(new Float32Array(6), new Float32Array(3), new Float32Array(3),
      new Float32Array(5), new Float32Array(2), new Float32Array(2), 2, 3, 1e-5, false),
    /layerNormForward: y has 5 elements, expected 6/);
    assert.throws(() => k.gemm(false, false, 4, 4, 4, 1, new Float32Array(15), 4, new Float32Array(16), 4, 0,
      new Float32Array(16), 4), /gemm: A has 15 elements, needs at least 16/);
    assert.throws(() => k.gemm(false, false, 2, 2, 3, 1, new Float32Array(6), 2, new Float32Array(6), 2, 0,
      new Float32Array(4), 2), /leading dimension 2 < row length 3/);
  });

  it('rejects ids outside the table instead of reading out of bounds', () => {
    assert.throws(() => k.embeddingForward(new Float32Array(6), Int32Array.from([0, 3]), new Float32Array(4), 3, 2),
      /embeddingForward: ids\[1\] = 3 is outside \[0, 3\)/);
    assert.throws(() => k.softmaxXentForward(new Float32Array(2), new Float32Array(4), null, Int32Array.from([-2]),
      new Float32Array(1), 1, 2, 2, -1), /targets\[0\] = -2 is outside/);
  });

  it('rejects non-integer and non-positive dimensions', () => {
    assert.throws(() => k.sumRows(new Float32Array(4), 2.5, 2, new Float32Array(2)), /rows must be an integer >= 1/);
    assert.throws(() => k.conv1dForward(new Float32Array(4), new Float32Array(4), null, new Float32Array(4), 1, 4, 1, 1,
      2, 1, false), /centred convolution needs an odd kernel size/);
  });

  it('rejects NaN, infinite and out-of-range integers before converting them (no undefined behaviour)', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, 1e300, -1e300, 2 ** 31, 2 ** 63]) {
      assert.throws(() => k.sumRows(new Float32Array(4), bad, 2, new Float32Array(2)), /rows must be an integer >= 1/, String(bad));
    }
    const call = (ignoreIndex: number) => k.softmaxXentForward(new Float32Array(2), new Float32Array(4), null,
      Int32Array.from([1]), new Float32Array(1), 1, 2, 2, ignoreIndex);
    assert.equal(typeof call(-1), 'number');
    for (const bad of [Number.NaN, Infinity, 2 ** 31, -(2 ** 31) - 1, 0.5, 1e300]) {
      assert.throws(() => call(bad), /ignoreIndex must be an integer in \[-2147483648, 2147483647\]/, String(bad));
    }
  });

  it('GRAFTREC_BLAS naming a missing library fails at load with a clear message', () => {
    const script = `import('${new URL('../../src/index.js', import.meta.url).href}').then(m => m.backend().info())`;
    const r = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, GRAFTREC_BLAS: '/nonexistent/libblas.so' }, encoding: 'utf8',
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /GRAFTREC_BLAS=\/nonexistent\/libblas.so: cannot load a library exporting cblas_sgemm/);
  });

  it('GRAFTREC_DETERMINISTIC=1 turns deterministic mode on (builtin GEMM), a bad value is refused', () => {
    const script = `import('${new URL('../../src/index.js', import.meta.url).href}').then(m => console.log(JSON.stringify(m.backend().info())))`;
    const on = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, GRAFTREC_DETERMINISTIC: '1' }, encoding: 'utf8' });
    const info = JSON.parse(on.stdout) as { deterministic: boolean; gemmBackend: string };
    assert.equal(info.deterministic, true);
    assert.equal(info.gemmBackend, 'builtin');
    const bad = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, GRAFTREC_DETERMINISTIC: 'yes' }, encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /GRAFTREC_DETERMINISTIC must be 0 or 1/);
  });

  it('GRAFTREC_THREADS sets the pool size, and a bad value is refused', () => {
    const script = `import('${new URL('../../src/index.js', import.meta.url).href}').then(m => console.log(m.backend().info().threads))`;
    const ok = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, GRAFTREC_THREADS: '3' }, encoding: 'utf8' });
    assert.equal(ok.stdout.trim(), '3');
    const bad = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, GRAFTREC_THREADS: 'many' }, encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /GRAFTREC_THREADS must be a positive integer/);
  });
});
