/**
 * The dataset directory written by `graftrec ingest` / `graftrec synth` and read by training and evaluation.
 *
 *   dataset.json      metadata (DatasetMeta below)
 *   items.json        raw item ids: items[i - 1] is the raw id of item index i (index 0 is padding)
 *   users.json        raw user ids: users[u] is the raw id of user index u
 *   sequences.i32     all users' item indices, concatenated in user order, each user's in time order
 *   offsets.i32       numUsers + 1 offsets into sequences (user u = sequences[offsets[u] .. offsets[u+1]))
 *   domains.u8        optional: the domain index of each interaction (parallel to sequences)
 *   attributes.json   optional: { column: values[] } with one value per user (string or null when missing)
 *   item-text.json    optional: texts[i - 1] is the text of item index i ("" when it has none)
 *   item-tokens.i32, item-token-offsets.i32
 *                     with item-text.json: its hashed token ids (text/tokenize.ts), CSR over item indices
 *                     0..numItems (row 0, padding, is empty), computed once at ingest
 *   item-features.f32 optional: one vector of meta.itemFeatures.dim floats per item index 0..numItems (row 0 zero)
 *
 * Binary files are raw little-endian arrays so loading is a read and a typed-array view, no parsing.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../errors.js';
import { writeDirAtomic } from '../io/atomic.js';
import { TokenRows, TokenizerSpec } from './text/tokenize.js';

export const DATASET_FORMAT = 'graftrec-dataset';
export const DATASET_VERSION = 1;

export interface DatasetMeta {
  format: typeof DATASET_FORMAT;
  version: number;
  numUsers: number;
  /** Number of real items; item indices run 1..numItems and 0 is padding, so tables have numItems + 1 rows. */
  numItems: number;
  numInteractions: number;
  /** Domain names in index order, when the log had a domain column. */
  domains: string[] | null;
  /** Attribute columns attached at ingest (one value per user). */
  attributes: string[];
  /** Item text attached at ingest (absent in datasets without it). */
  itemText?: ItemTextMeta;
  /** Item vectors attached at ingest (absent in datasets without them). */
  itemFeatures?: ItemFeaturesMeta;
  /** Free-form description of where the data came from (file, options). */
  source: Record<string, unknown>;
}

export interface ItemTextMeta {
  /** The text table's columns joined into each item's text. */
  columns: string[];
  tokenizer: TokenizerSpec;
  itemsWithoutText: number;
}

export interface ItemFeaturesMeta {
  /** Floats per item vector. */
  dim: number;
  /** Kept items without a vector (a zero vector; only with --allow-missing). */
  itemsWithoutFeatures: number;
}

export interface DatasetItemText {
  texts: string[];
  tokens: TokenRows;
}

export interface Dataset {
  meta: DatasetMeta;
  items: string[];
  users: string[];
  sequences: Int32Array;
  offsets: Int32Array;
  domains: Uint8Array | null;
  attributes: Record<string, (string | null)[]>;
  /** Present exactly when meta.itemText is. */
  itemText?: DatasetItemText;
  /** Present exactly when meta.itemFeatures is: [(numItems + 1) * dim], row 0 zero. */
  itemFeatures?: Float32Array;
}

/** Vocabulary size including the padding row 0. */
export function vocabSize(ds: Dataset): number {
  return ds.meta.numItems + 1;
}

/** The item indices of user u, in time order (a view, no copy). */
export function userSequence(ds: Dataset, u: number): Int32Array {
  return ds.sequences.subarray(ds.offsets[u]!, ds.offsets[u + 1]!);
}

function view<T extends Int32Array | Uint8Array | Float32Array>(buf: Buffer, Ctor: { new(b: ArrayBuffer, o: number, l: number): T; BYTES_PER_ELEMENT: number }): T {
  // Copy into a fresh aligned buffer: Buffer pools may start at offsets not divisible by the element size.
  const copy = new ArrayBuffer(buf.byteLength);
  new Uint8Array(copy).set(buf);
  return new Ctor(copy, 0, buf.byteLength / Ctor.BYTES_PER_ELEMENT);
}

/** Checks the invariants every consumer relies on; throws DataError naming the file at fault. */
export function validateDataset(ds: Dataset, dir = '<memory>'): void {
  const { meta } = ds;
  const fail = (file: string, msg: string): never => {
    throw new DataError(`${join(dir, file)}: ${msg}`);
  };
  if (ds.items.length !== meta.numItems) fail('items.json', `${ds.items.length} items, dataset.json says ${meta.numItems}`);
  if (ds.users.length !== meta.numUsers) fail('users.json', `${ds.users.length} users, dataset.json says ${meta.numUsers}`);
  if (ds.offsets.length !== meta.numUsers + 1) fail('offsets.i32', `${ds.offsets.length} offsets for ${meta.numUsers} users`);
  if (ds.sequences.length !== meta.numInteractions) {
    fail('sequences.i32', `${ds.sequences.length} interactions, dataset.json says ${meta.numInteractions}`);
  }
  if (ds.offsets[0] !== 0 || ds.offsets[meta.numUsers] !== meta.numInteractions) fail('offsets.i32', 'offsets do not span the sequences');
  for (let u = 0; u < meta.numUsers; u++) if (ds.offsets[u + 1]! < ds.offsets[u]!) fail('offsets.i32', `offsets decrease at user ${u}`);
  for (let i = 0; i < ds.sequences.length; i++) {
    const v = ds.sequences[i]!;
    if (v < 1 || v > meta.numItems) fail('sequences.i32', `item index ${v} at position ${i} is outside [1, ${meta.numItems}]`);
  }
  if (ds.domains && ds.domains.length !== meta.numInteractions) fail('domains.u8', 'length differs from sequences');
  if ((meta.itemText === undefined) !== (ds.itemText === undefined)) fail('dataset.json', 'item text metadata and item text files disagree');
  if (meta.itemText && ds.itemText) {
    const { texts, tokens } = ds.itemText;
    if (texts.length !== meta.numItems) fail('item-text.json', `${texts.length} texts for ${meta.numItems} items`);
    if (tokens.offsets.length !== meta.numItems + 2 || tokens.offsets[0] !== 0 || tokens.offsets[1] !== 0
      || tokens.offsets[meta.numItems + 1] !== tokens.tokens.length) {
      fail('item-token-offsets.i32', `offsets do not span ${meta.numItems + 1} token rows`);
    }
    const buckets = meta.itemText.tokenizer.buckets;
    for (const t of tokens.tokens) if (t < 0 || t >= buckets) fail('item-tokens.i32', `token id ${t} outside [0, ${buckets})`);
  }
  if ((meta.itemFeatures === undefined) !== (ds.itemFeatures === undefined)) fail('dataset.json', 'item feature metadata and item-features.f32 disagree');
  if (meta.itemFeatures && ds.itemFeatures) {
    const { dim } = meta.itemFeatures;
    if (ds.itemFeatures.length !== (meta.numItems + 1) * dim) fail('item-features.f32', `${ds.itemFeatures.length} floats for ${meta.numItems + 1} rows of ${dim}`);
    const bad = ds.itemFeatures.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail('item-features.f32', `item index ${Math.floor(bad / dim)} has a value that is not a finite number`);
  }
  for (const name of meta.attributes) {
    const col = ds.attributes[name];
    if (!col || col.length !== meta.numUsers) fail('attributes.json', `column ${name} does not have one value per user`);
  }
}

export async function saveDataset(dir: string, ds: Dataset): Promise<void> {
  validateDataset(ds);
  await writeDirAtomic(dir, async (tmp) => {
    await writeFile(join(tmp, 'dataset.json'), JSON.stringify(ds.meta, null, 2) + '\n');
    await writeFile(join(tmp, 'items.json'), JSON.stringify(ds.items));
    await writeFile(join(tmp, 'users.json'), JSON.stringify(ds.users));
    await writeFile(join(tmp, 'sequences.i32'), new Uint8Array(ds.sequences.buffer, ds.sequences.byteOffset, ds.sequences.byteLength));
    await writeFile(join(tmp, 'offsets.i32'), new Uint8Array(ds.offsets.buffer, ds.offsets.byteOffset, ds.offsets.byteLength));
    if (ds.domains) await writeFile(join(tmp, 'domains.u8'), ds.domains);
    if (ds.meta.attributes.length > 0) await writeFile(join(tmp, 'attributes.json'), JSON.stringify(ds.attributes));
    if (ds.itemText) {
      const { texts, tokens } = ds.itemText;
      await writeFile(join(tmp, 'item-text.json'), JSON.stringify(texts));
      await writeFile(join(tmp, 'item-tokens.i32'), new Uint8Array(tokens.tokens.buffer, tokens.tokens.byteOffset, tokens.tokens.byteLength));
      await writeFile(join(tmp, 'item-token-offsets.i32'), new Uint8Array(tokens.offsets.buffer, tokens.offsets.byteOffset, tokens.offsets.byteLength));
    }
    if (ds.itemFeatures) {
      const f = ds.itemFeatures;
      await writeFile(join(tmp, 'item-features.f32'), new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
    }
  });
}

export async function loadDataset(dir: string): Promise<Dataset> {
  const metaPath = join(dir, 'dataset.json');
  if (!existsSync(metaPath)) throw new DataError(`${dir}: not a graftrec dataset (no dataset.json); create one with \`graftrec ingest\``);
  let meta: DatasetMeta;
  try {
    meta = JSON.parse(await readFile(metaPath, 'utf8')) as DatasetMeta;
  } catch (err) {
    throw new DataError(`${metaPath}: unreadable (${(err as Error).message})`);
  }
  if (meta.format !== DATASET_FORMAT) throw new DataError(`${metaPath}: format is ${String(meta.format)}, expected ${DATASET_FORMAT}`);
  if (meta.version !== DATASET_VERSION) throw new DataError(`${metaPath}: version ${meta.version} is not supported (expected ${DATASET_VERSION})`);
  const read = async (file: string) => {
    const p = join(dir, file);
    if (!existsSync(p)) throw new DataError(`${p}: missing`);
    return readFile(p);
  };
  const ds: Dataset = {
    meta,
    items: JSON.parse((await read('items.json')).toString('utf8')) as string[],
    users: JSON.parse((await read('users.json')).toString('utf8')) as string[],
    sequences: view(await read('sequences.i32'), Int32Array),
    offsets: view(await read('offsets.i32'), Int32Array),
    domains: existsSync(join(dir, 'domains.u8')) ? view(await read('domains.u8'), Uint8Array) : null,
    attributes: meta.attributes.length > 0
      ? (JSON.parse((await read('attributes.json')).toString('utf8')) as Record<string, (string | null)[]>)
      : {},
  };
  if (meta.itemText) {
    ds.itemText = {
      texts: JSON.parse((await read('item-text.json')).toString('utf8')) as string[],
      tokens: { offsets: view(await read('item-token-offsets.i32'), Int32Array), tokens: view(await read('item-tokens.i32'), Int32Array) },
    };
  }
  if (meta.itemFeatures) ds.itemFeatures = view(await read('item-features.f32'), Float32Array);
  validateDataset(ds, dir);
  return ds;
}

/** The files whose bytes identify a dataset's interactions (who clicked what, in which order). */
const HASHED_FILES = ['offsets.i32', 'sequences.i32'] as const;

/**
 * sha256 over the dataset's offsets and sequences files, streamed (a large log is never held in memory). Each
 * file enters as its name and byte length, then its bytes, so moving bytes from one file to the other changes the
 * hash. Vocabularies and side tables are not part of it: the same interactions under renamed ids hash the same.
 */
export async function datasetHash(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of HASHED_FILES) {
    const path = join(dir, file);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw new DataError(`${path}: missing (not a graftrec dataset directory?)`);
    }
    hash.update(`${file}\n${size}\n`);
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
