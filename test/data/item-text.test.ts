import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadDataset, type Dataset } from '../../src/data/dataset.js';
import { ingest, type IngestOptions } from '../../src/data/ingest.js';
import { tokenIds, tokenizerSpec } from '../../src/data/text/tokenize.js';
import { DataError } from '../../src/errors.js';
import { CLI } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'graftrec-item-text-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let count = 0;
function file(name: string, content: string | Uint8Array): string {
  const path = join(tmp, `${count++}-${name}`);
  writeFileSync(path, content);
  return path;
}
const freshOut = () => join(tmp, `out-${count++}`);

const LOG = file('log.tsv', 'user\titem\na\tx\na\ty\nb\ty\nb\tz\nb\tx\n');
const TEXT = 'item\ttitle\tbrand\nx\tRed &amp; Blue Mug\tAcme\ny\tCafé Table\t\nz\t東京 🎮\tNintendo\nunused\tnever bought\tNone\n';

async function ingestText(opts: Partial<IngestOptions>): Promise<Dataset> {
  const out = freshOut();
  await ingest({ input: LOG, out, ...opts });
  return loadDataset(out);
}

/** The token ids of raw item `raw`, read back from the saved dataset. */
function tokensOf(ds: Dataset, raw: string): number[] {
  const i = ds.items.indexOf(raw) + 1;
  const { offsets, tokens } = ds.itemText!.tokens;
  return Array.from(tokens.subarray(offsets[i]!, offsets[i + 1]!));
}

async function assertRejects(opts: Partial<IngestOptions>, pattern: RegExp): Promise<void> {
  const out = freshOut();
  await assert.rejects(ingest({ input: LOG, out, ...opts }), (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
  assert.equal(existsSync(out), false, 'nothing written');
}

describe('ingest --item-text', () => {
  it('joins the text columns per kept item, tokenises them once and stores them with the dataset', async () => {
    const ds = await ingestText({ itemText: file('items.tsv', TEXT), textBuckets: 1 << 12 });
    assert.deepEqual(ds.meta.itemText, { columns: ['title', 'brand'], tokenizer: tokenizerSpec(1 << 12), itemsWithoutText: 0 });
    const texts = Object.fromEntries(ds.items.map((raw, i) => [raw, ds.itemText!.texts[i]]));
    assert.deepEqual(texts, { x: 'Red &amp; Blue Mug. Acme', y: 'Café Table', z: '東京 🎮. Nintendo' });
    assert.deepEqual(tokensOf(ds, 'x'), Array.from(tokenIds('red blue mug acme', tokenizerSpec(1 << 12))));
    const { offsets } = ds.itemText!.tokens;
    assert.equal(offsets[1], 0, 'padding row 0 has no tokens');
  });

  it('the same text gets the same ids in two ingests of different logs (one vocabulary by construction)', async () => {
    const a = await ingestText({ itemText: file('items.tsv', TEXT) });
    const otherLog = file('log2.tsv', 'user\titem\nq\tw\nq\tv\nr\tw\nr\tv\ns\tw\ns\ty\n');
    const out = freshOut();
    await ingest({ input: otherLog, out, itemText: file('items2.tsv', 'item\ttitle\tbrand\nw\tsomething else\tX\nv\tmore\t\ny\tCafé Table\t\n') });
    const b = await loadDataset(out);
    assert.notEqual(a.items.indexOf('y'), b.items.indexOf('y'), 'item y has another index in each dataset');
    assert.deepEqual(tokensOf(a, 'y'), tokensOf(b, 'y'));
    assert.ok(tokensOf(a, 'y').length > 0);
  });

  it('--item-text-cols picks and orders the text columns', async () => {
    const ds = await ingestText({ itemText: file('items.tsv', TEXT), itemTextColumns: ['brand', 'title'] });
    assert.deepEqual(ds.meta.itemText!.columns, ['brand', 'title']);
    assert.equal(ds.itemText!.texts[ds.items.indexOf('x')], 'Acme. Red &amp; Blue Mug');
    await assertRejects({ itemText: file('items.tsv', TEXT), itemTextColumns: ['price'] }, /no text column 'price'/);
  });

  it('items without text: refused by default, counted (empty text) with --allow-missing', async () => {
    const partial = file('items.tsv', 'item\ttitle\nx\tmug\ny\t\n');
    await assertRejects({ itemText: partial }, /2 of 3 items have no text \(e\.g\. "y", "z"\).*--allow-missing/);
    const ds = await ingestText({ itemText: partial, allowMissing: true });
    assert.equal(ds.meta.itemText!.itemsWithoutText, 2);
    assert.deepEqual(tokensOf(ds, 'z'), []);
  });

  it('refuses duplicate item ids, empty and header-only files, non-UTF-8 bytes and a missing item column', async () => {
    await assertRejects({ itemText: file('dup.tsv', 'item\ttitle\nx\ta\ny\tb\nx\tc\n') }, /line 2: item "x" has 2 rows/);
    await assertRejects({ itemText: file('empty.tsv', '') }, /empty file/);
    await assertRejects({ itemText: file('header.tsv', 'item\ttitle\n') }, /no item rows/);
    await assertRejects({ itemText: file('latin1.tsv', Uint8Array.from([...Buffer.from('item\ttitle\nx\tcaf'), 0xe9, 0x0a])) }, /not valid UTF-8/);
    await assertRejects({ itemText: file('nokey.tsv', 'sku\ttitle\nx\ta\n') }, /no item column 'item'/);
    await assertRejects({ itemText: join(tmp, 'absent.tsv') }, /no such item text file/);
  });

  it('CLI: one error line and exit code 1 on bad item text; the summary names the text columns', () => {
    const bad = spawnSync(process.execPath, [CLI, 'ingest', LOG, '--out', freshOut(), '--item-text', file('dup.tsv', 'item\ttitle\nx\ta\nx\tb\n')], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    const good = spawnSync(process.execPath, [CLI, 'ingest', LOG, '--out', freshOut(), '--item-text', file('items.tsv', TEXT), '--item-text-cols', 'title'], { encoding: 'utf8' });
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /item text: title \(\d+\.\d tokens per item, 0 items without text\)/);
  });
});
