/**
 * Reading and writing the safetensors format (an 8-byte little-endian header length, a JSON header mapping
 * tensor names to dtype / shape / byte offsets, then the raw little-endian data). No maintained npm package
 * implements it, and the format is small, so it lives here; files interoperate with the Python `safetensors`.
 */
import { readFile } from 'node:fs/promises';
import { ModelError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

export type StoredTensor =
  | { dtype: 'F32'; shape: number[]; data: Float32Array }
  | { dtype: 'I32'; shape: number[]; data: Int32Array }
  /** Bytes: bit-packed masks (continual learning). */
  | { dtype: 'U8'; shape: number[]; data: Uint8Array };

export type TensorMap = Map<string, StoredTensor>;

const BYTES = { F32: 4, I32: 4, U8: 1 } as const;
type Dtype = keyof typeof BYTES;

export function encodeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  // Sorted names give byte-identical files for identical contents.
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // align the data section to 8 bytes
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

export async function writeSafetensors(path: string, tensors: TensorMap, metadata: Record<string, string> = {}): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export interface DecodedSafetensors {
  tensors: TensorMap;
  metadata: Record<string, string>;
}

export function decodeSafetensors(bytes: Uint8Array, source: string): DecodedSafetensors {
  const fail = (msg: string): never => {
    throw new ModelError(`${source}: not a valid safetensors file: ${msg}`);
  };
  if (bytes.length < 8) fail('shorter than its 8-byte header length');
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > bytes.length) fail(`header length ${headerLen} exceeds the file size ${bytes.length}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLen).toString('utf8')) as Record<string, unknown>;
  } catch {
    return fail('header is not JSON');
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!(typeof e.dtype === 'string' && Object.hasOwn(BYTES, e.dtype))) fail(`tensor ${name} has dtype ${String(e.dtype)} (supported: F32, I32, U8)`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor ${name} has an invalid shape`);
    const [begin, end] = e.data_offsets ?? [-1, -1];
    const count = e.shape!.reduce((a, b) => a * b, 1);
    if (!(begin >= 0 && end >= begin && end <= dataLen)) fail(`tensor ${name} data offsets [${begin}, ${end}] are outside the data (${dataLen} bytes)`);
    const need = count * BYTES[e.dtype as Dtype];
    if (end - begin !== need) fail(`tensor ${name} holds ${end - begin} bytes, shape [${e.shape!.join(', ')}] needs ${need}`);
    // Copy into an aligned buffer of its own: the file's offsets need not be 4-byte aligned in memory.
    const raw = new Uint8Array(end - begin);
    raw.set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, e.dtype === 'F32'
      ? { dtype: 'F32', shape: e.shape!, data: new Float32Array(raw.buffer) }
      : e.dtype === 'I32'
        ? { dtype: 'I32', shape: e.shape!, data: new Int32Array(raw.buffer) }
        : { dtype: 'U8', shape: e.shape!, data: raw });
  }
  return { tensors, metadata };
}

export async function readSafetensors(path: string): Promise<DecodedSafetensors> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new ModelError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodeSafetensors(bytes, path);
}

/** Float32 tensors only, as the model loader wants them. */
export function floatTensors(decoded: DecodedSafetensors, source: string): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of decoded.tensors) {
    if (t.dtype !== 'F32') throw new ModelError(`${source}: tensor ${name} is ${t.dtype}, expected F32`);
    out.set(name, { shape: t.shape, data: t.data });
  }
  return out;
}
