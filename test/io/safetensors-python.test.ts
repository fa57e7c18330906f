import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { readSafetensors } from '../../src/io/safetensors.js';

/** Written by test/fixtures/safetensors/make_python_fixture.py (Python standard library only). */
const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/safetensors/python.safetensors', import.meta.url));

describe('safetensors written by Python', () => {
  it('reads the names, dtypes, shapes, values and metadata a Python writer put there', async () => {
    const { tensors, metadata } = await readSafetensors(FIXTURE);
    assert.deepEqual(metadata, { written_by: 'make_python_fixture.py' });
    assert.deepEqual([...tensors.keys()].sort(), ['counts', 'empty', 'scalar', 'weights']);
    const weights = tensors.get('weights')!;
    assert.equal(weights.dtype, 'F32');
    assert.deepEqual(weights.shape, [2, 3]);
    assert.ok(weights.data instanceof Float32Array);
    assert.deepEqual([...weights.data], [0.5, -1.25, 3.0, Math.fround(1e-3), -0, 65504.0]);
    assert.ok(Object.is(weights.data[4], -0));
    const counts = tensors.get('counts')!;
    assert.equal(counts.dtype, 'I32');
    assert.deepEqual(counts.shape, [4]);
    assert.ok(counts.data instanceof Int32Array);
    assert.deepEqual([...counts.data], [1, -2, 2147483647, -2147483648]);
    const scalar = tensors.get('scalar')!;
    assert.equal(scalar.dtype, 'F32');
    assert.deepEqual(scalar.shape, []);
    assert.deepEqual([...scalar.data], [3.140625]);
    const empty = tensors.get('empty')!;
    assert.equal(empty.dtype, 'I32');
    assert.deepEqual(empty.shape, [0, 2]);
    assert.equal(empty.data.length, 0);
  });
});
