import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Dataset, loadDataset, userSequence } from '../../src/data/dataset.js';
import { ingest } from '../../src/data/ingest.js';
import { loadDatasets } from '../../src/data/merge.js';
import { DataError } from '../../src/errors.js';
import { tempDir } from '../helpers/datasets.js';
import { catalogue, writeCatalogue } from '../helpers/text-catalogue.js';
import { CLI as cli } from '../helpers/cli.js';


let dir: string;
let a: string;
let b: string;

before(async () => {
  dir = tempDir();
  // Two platforms with no shared id (prefixes a and b), and a third that shares a's ids: a1 with a's text, a2 with another.
  const fa = writeCatalogue(dir, catalogue(1, 120), 'a');
  const fb = writeCatalogue(dir, catalogue(2, 120), 'b');
  a = join(dir, 'a');
  b = join(dir, 'b');
  await ingest({ input: fa.log, out: a, itemText: fa.items, textBuckets: 1 << 12 });
  await ingest({ input: fb.log, out: b, itemText: fb.items, textBuckets: 1 << 12 });
  const texts = new Map(readFileSync(fa.items, 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t') as [string, string]));
  writeFileSync(join(dir, 'c.tsv'), 'user\titem\nc1\ta1\nc1\tc9\nc1\ta1\n');
  writeFileSync(join(dir, 'c-same.tsv'), `item\ttitle\na1\t${texts.get('a1')}\nc9\tmini kitchen item set\n`);
  writeFileSync(join(dir, 'c-other.tsv'), 'item\ttitle\na1\tsomething else entirely\nc9\tmini kitchen item set\n');
  await ingest({ input: join(dir, 'c.tsv'), out: join(dir, 'c-same'), itemText: join(dir, 'c-same.tsv'), textBuckets: 1 << 12 });
  await ingest({ input: join(dir, 'c.tsv'), out: join(dir, 'c-other'), itemText: join(dir, 'c-other.tsv'), textBuckets: 1 << 12 });
  await ingest({ input: join(dir, 'c.tsv'), out: join(dir, 'c-8k'), itemText: join(dir, 'c-same.tsv'), textBuckets: 1 << 13 });
  await ingest({ input: join(dir, 'c.tsv'), out: join(dir, 'c-no-text') });
});

/** Each user's items as raw ids, and each item's text: what a merge must keep. */
function rawUsers(ds: Dataset): string[][] {
  return ds.users.map((_, u) => Array.from(userSequence(ds, u), (v) => `${ds.items[v - 1]} ${ds.itemText!.texts[v - 1]}`));
}

function tokenRow(ds: Dataset, raw: string): number[] {
  const i = ds.items.indexOf(raw) + 1;
  const { offsets, tokens } = ds.itemText!.tokens;
  return Array.from(tokens.subarray(offsets[i]!, offsets[i + 1]!));
}

describe('pretrain --data a,b: several datasets as one', () => {
  it('concatenates the users and unites the items, each user keeping their items, each item its text and tokens', async () => {
    const [da, db, merged] = [await loadDataset(a), await loadDataset(b), await loadDatasets(`${a},${b}`)];
    assert.equal(merged.meta.numUsers, da.meta.numUsers + db.meta.numUsers);
    assert.equal(merged.meta.numItems, da.meta.numItems + db.meta.numItems);
    assert.equal(merged.meta.numInteractions, da.meta.numInteractions + db.meta.numInteractions);
    assert.deepEqual(rawUsers(merged), [...rawUsers(da), ...rawUsers(db)]);
    for (const raw of ['a1', 'a17', 'b1', 'b60']) assert.deepEqual(tokenRow(merged, raw), tokenRow(raw.startsWith('a') ? da : db, raw), raw);
  });

  it('the same id is one item when its text agrees; a different text, tokenizer or missing text stops the merge', async () => {
    const da = await loadDataset(a);
    const merged = await loadDatasets(`${a},${join(dir, 'c-same')}`);
    assert.equal(merged.meta.numItems, da.meta.numItems + 1); // c9 only: a1 is a's a1
    assert.deepEqual(rawUsers(merged).at(-1), rawUsers(await loadDataset(join(dir, 'c-same')))[0]);
    await assert.rejects(loadDatasets(`${a},${join(dir, 'c-other')}`), (e: Error) => e instanceof DataError && /item "a1" has one text in .* and another in .*c-other/.test(e.message));
    await assert.rejects(loadDatasets(`${a},${join(dir, 'c-8k')}`), /tokenised differently .* \(8192 against 4096 buckets\)/);
    await assert.rejects(loadDatasets(`${a},${join(dir, 'c-no-text')}`), /c-no-text: has no item text while .* has/);
    await assert.rejects(loadDatasets(`${a},${a}`), /a dataset is given twice/);
  });

  it('the CLI trains one text model on both platforms and evaluates it on the same merge; bad lists exit 1 with nothing written', () => {
    const out = join(dir, 'both');
    const r = spawnSync(process.execPath, [cli, 'pretrain', '--data', `${a},${b}`, '--out', out, '--item-encoder', 'text', '--dim', '16', '--blocks', '1',
      '--max-len', '6', '--epochs', '1', '--batch', '32'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const items = JSON.parse(readFileSync(join(out, 'items.json'), 'utf8')) as string[];
    assert.ok(items.some((i) => i.startsWith('a')) && items.some((i) => i.startsWith('b')));
    const ev = spawnSync(process.execPath, [cli, 'evaluate', '--model', out, '--data', `${a},${b}`, '--json'], { encoding: 'utf8' });
    assert.equal(ev.status, 0, ev.stderr);
    const one = spawnSync(process.execPath, [cli, 'evaluate', '--model', out, '--data', a], { encoding: 'utf8' });
    assert.equal(one.status, 1, 'a model of the merge is refused on one of its parts (another vocabulary)');

    const bad = join(dir, 'bad');
    const refused = spawnSync(process.execPath, [cli, 'pretrain', '--data', `${a},${join(dir, 'c-other')}`, '--out', bad, '--item-encoder', 'text', '--epochs', '1'], { encoding: 'utf8' });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /item "a1" has one text in/);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.equal(existsSync(bad), false);
  });
});
