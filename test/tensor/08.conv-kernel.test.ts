import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { backend } from '../../src/index.js';
import { convShapeFailures } from '../helpers/conv-shapes.js';

const k = backend();
after(() => k.setDeterministic(false));
const script = fileURLToPath(new URL('../helpers/conv-shapes.js', import.meta.url));

describe('convolution kernels on blocking-edge shapes', () => {
  it(`match float64 with the configured GEMM backend (${k.info().gemmBackend})`, () => {
    assert.deepEqual(convShapeFailures(), []);
  });

  it('match float64 in deterministic mode (builtin GEMM, gather inside the kernel)', () => {
    k.setDeterministic(true);
    try {
      assert.deepEqual(convShapeFailures(), []);
    } finally {
      k.setDeterministic(false);
    }
  });

  for (const isa of ['avx2', 'portable']) {
    it(`match float64 on the builtin GEMM's ${isa} path`, () => {
      const run = spawnSync(process.execPath, [script], {
        encoding: 'utf8', env: { ...process.env, GRAFTREC_BLAS: 'builtin', GRAFTREC_GEMM_ISA: isa },
      });
      assert.equal(run.status, 0, run.stderr);
    });
  }
});
