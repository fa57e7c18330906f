import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ModelError } from '../../src/errors.js';
import { TensorMap, decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { tempDir } from '../helpers/datasets.js';

const tensors: TensorMap = new Map([
  ['block.0.conv1.weight', { dtype: 'F32', shape: [3, 2, 2], data: Float32Array.from({ length: 12 }, (_, i) => i / 4) }],
  ['ids', { dtype: 'I32', shape: [3], data: Int32Array.from([7, -1, 3]) }],
  ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
]);

describe('safetensors', () => {
  it('round-trips tensors and metadata through a file', async () => {
    const path = join(tempDir(), 'w.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt' });
    const back = await readSafetensors(path);
    assert.deepEqual(back.metadata, { format: 'pt' });
    for (const [name, t] of tensors) {
      assert.deepEqual(back.tensors.get(name)?.shape, t.shape, name);
      assert.deepEqual(Array.from(back.tensors.get(name)!.data), Array.from(t.data), name);
    }
  });

  it('writes the standard layout: u64 header length, JSON header, 8-byte aligned data', () => {
    const bytes = encodeSafetensors(tensors);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
    assert.deepEqual(header.ids, { dtype: 'I32', shape: [3], data_offsets: [48, 60] });
    assert.equal(bytes.length, 8 + n + 48 + 12);
  });

  it('is byte-identical for identical contents (sorted tensor names)', () => {
    const reversed: TensorMap = new Map([...tensors.entries()].reverse());
    assert.deepEqual(encodeSafetensors(reversed), encodeSafetensors(tensors));
  });

  it('rejects corrupt files with a ModelError naming the file', async () => {
    const good = encodeSafetensors(tensors);
    const cases: [string, Uint8Array, RegExp][] = [
      ['truncated', good.subarray(0, 5), /shorter than its 8-byte header length/],
      ['huge header length', (() => { const b = Uint8Array.from(good); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); return b; })(), /exceeds the file size/],
      ['data cut off', good.subarray(0, good.length - 4), /outside the data|needs/],
      ['not JSON', (() => { const b = Uint8Array.from(good); b[8] = 0x7a; return b; })(), /header is not JSON/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const path = join(tempDir(), `${name.replace(/ /g, '-')}.safetensors`);
      writeFileSync(path, bytes);
      await assert.rejects(readSafetensors(path), (e: unknown) => e instanceof ModelError && pattern.test(e.message) && e.message.includes(path), name);
    }
    await assert.rejects(readSafetensors('/nonexistent/x.safetensors'), /cannot read \(ENOENT\)/);
  });

  it('rejects unsupported dtypes', () => {
    const header = Buffer.from(JSON.stringify({ x: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }).padEnd(48));
    const bytes = new Uint8Array(8 + header.length + 2);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    assert.throws(() => decodeSafetensors(bytes, 'f16.safetensors'), /dtype F16 \(supported: F32, I32, U8\)/);
  });
});
