import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, quotedString } from '@duckdb/node-api';
import { loadDataset, userSequence, type Dataset } from '../../src/data/dataset.js';
import { buildDataset, ingest, type IngestOptions } from '../../src/data/ingest.js';
import { DataError } from '../../src/errors.js';
import { CLI } from '../helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/ingest/', import.meta.url));
// The shared public sample log, kept beside the repository (not inside it). Without it the test is skipped, except
// in CI (CI=true), where the file is expected and its absence is a failure.
const AMAZON = fileURLToPath(new URL('../../../../shared/data/amazon-video-games.txt', import.meta.url));

const tmp = mkdtempSync(join(tmpdir(), 'graftrec-ingest-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let fileCount = 0;
function writeInput(name: string, text: string): string {
  const path = join(tmp, `${fileCount++}-${name}`);
  writeFileSync(path, text);
  return path;
}
const freshOut = () => join(tmp, `out-${fileCount++}`);

/** Every user's sequence as raw item ids, keyed by raw user id: what a reader of the log would expect. */
function rawSequences(ds: Dataset): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  ds.users.forEach((user, u) => (out[user] = Array.from(userSequence(ds, u), (i) => ds.items[i - 1]!)));
  return out;
}

async function build(opts: IngestOptions): Promise<Dataset> {
  return (await buildDataset(opts)).dataset;
}

/** Runs an ingest that must fail: the DataError's message matches every pattern and nothing is written. */
async function assertRejects(opts: IngestOptions, ...patterns: RegExp[]): Promise<void> {
  const out = freshOut();
  await assert.rejects(ingest({ ...opts, out }), (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
  assert.equal(existsSync(out), false, 'no dataset directory after a failed ingest');
}

const LOG_CSV = 'user,item,timestamp\nA,x,30\nA,y,10\nB,x,5\nA,z,10\nB,w,7\nC,y,1\n';

describe('ingest: formats', () => {
  it('CSV with a header: sequences by timestamp, ties in input order; a user with one interaction is dropped', async () => {
    const { dataset, summary } = await buildDataset({ input: writeInput('log.csv', LOG_CSV) });
    assert.deepEqual(rawSequences(dataset), { A: ['y', 'z', 'x'], B: ['x', 'w'] });
    assert.equal(summary.droppedUsers, 1);
    assert.equal(summary.inputRows, 6);
    assert.equal(summary.interactions, 5);
    assert.equal(dataset.domains, null);
  });

  it('TSV, columns chosen by name, a domain column and date-time timestamps', async () => {
    const input = writeInput(
      'log.tsv',
      'who\twhat\twhen\tarea\n' +
        '1\tb1\t2024-01-02 00:00:00\tbooks\n1\tm1\t2024-01-01\tmovies\n2\tm1\t2024-01-03\tmovies\n2\tb2\t2024-01-01T12:00:00\tbooks\n',
    );
    const ds = await build({ input, userCol: 'who', itemCol: 'what', timeCol: 'when', domainCol: 'area' });
    assert.deepEqual(rawSequences(ds), { 1: ['m1', 'b1'], 2: ['b2', 'm1'] });
    assert.deepEqual(ds.meta.domains, ['books', 'movies']);
    // Items are numbered domain by domain: both books before the movie.
    assert.deepEqual(ds.items, ['b1', 'b2', 'm1']);
    assert.deepEqual(Array.from(ds.domains!), [1, 0, 0, 1]);
  });

  it('MovieLens layout: header-less TSV named with --columns, tab written as backslash-t, | attributes', async () => {
    const out = freshOut();
    const summary = await ingest({
      input: join(FIXTURES, 'u.data'),
      columns: ['user', 'item', 'rating', 'timestamp'],
      delimiter: '\\t',
      header: false,
      attributes: join(FIXTURES, 'u.user'),
      attributeColumns: ['user', 'age', 'gender', 'occupation', 'zip'],
      attributeDelimiter: '|',
      out,
    });
    assert.deepEqual(
      { users: summary.users, items: summary.items, interactions: summary.interactions, droppedUsers: summary.droppedUsers },
      { users: 3, items: 4, interactions: 8, droppedUsers: 1 },
    );
    const ds = await loadDataset(out);
    assert.deepEqual(ds.users, ['1', '2', '3']);
    assert.deepEqual(ds.items, ['10', '20', '30', '40']);
    assert.deepEqual(Array.from(ds.sequences), [2, 3, 1, 1, 3, 4, 2, 1]);
    assert.deepEqual(Array.from(ds.offsets), [0, 3, 6, 8]);
    assert.deepEqual(ds.meta.attributes, ['age', 'gender', 'occupation', 'zip']);
    assert.deepEqual(ds.attributes.age, ['24', '53', null]);
    assert.deepEqual(ds.attributes.occupation, ['technician', 'other', null]);
    assert.equal(summary.usersWithoutAttributes, 1);
  });

  it('Parquet (written by DuckDB COPY), with integer ids and timestamps', async () => {
    const input = join(tmp, 'log.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    await connection.run(
      `COPY (SELECT * FROM (VALUES (7, 100, 3), (7, 200, 1), (8, 100, 2), (8, 300, 2), (7, 300, 2)) v(user, item, timestamp))
       TO ${quotedString(input)} (FORMAT parquet)`,
    );
    connection.closeSync();
    instance.closeSync();
    const ds = await build({ input });
    assert.deepEqual(rawSequences(ds), { 7: ['200', '300', '100'], 8: ['100', '300'] });
  });

  it('JSON lines with ids given as numbers and as strings', async () => {
    const input = writeInput(
      'log.jsonl',
      '{"user": 1, "item": "a", "timestamp": 2}\n{"user": "1", "item": "b", "timestamp": 1}\n{"user": 2, "item": "a", "timestamp": 5}\n{"user": 2, "item": "c", "timestamp": 4.5}\n',
    );
    assert.deepEqual(rawSequences(await build({ input })), { 1: ['b', 'a'], 2: ['c', 'a'] });
  });

  it('RecBole .inter: typed header names, user_id / item_id found without options, float timestamps', async () => {
    const ds = await build({ input: join(FIXTURES, 'tiny.inter') });
    assert.deepEqual(rawSequences(ds), { u1: ['i2', 'i1', 'i3'], u2: ['i1', 'i3'] });
    assert.deepEqual(ds.meta.source.columns, { user: 'user_id', item: 'item_id', time: 'timestamp' });
  });

  it('PeterRec CSV: padding dropped, user = line number, source then target items in their own domains', async () => {
    const ds = await build({ input: join(FIXTURES, 'peterrec.csv'), format: 'peterrec' });
    assert.deepEqual(ds.meta.domains, ['source', 'target']);
    assert.deepEqual(rawSequences(ds), {
      1: ['source:5', 'source:6', 'source:7', 'target:100'],
      2: ['source:3', 'source:4', 'target:101', 'target:102'],
      3: ['source:8', 'source:9'],
    });
    assert.deepEqual(ds.items.slice(0, 2), ['source:3', 'source:4']);
    assert.deepEqual(ds.items.slice(-3), ['target:100', 'target:101', 'target:102']);
    assert.deepEqual(Array.from(ds.domains!), [0, 0, 0, 1, 0, 0, 1, 1, 0, 0]);
  });

  it('--domain keeps one domain: its items get a vocabulary of their own, the rest of the log is gone', async () => {
    const ds = await build({ input: join(FIXTURES, 'peterrec.csv'), format: 'peterrec', domain: 'source', minUserInteractions: 1 });
    assert.deepEqual(ds.meta.domains, ['source']);
    assert.ok(ds.items.every((i) => i.startsWith('source:')), ds.items.join(','));
    assert.deepEqual(rawSequences(ds)[2], ['source:3', 'source:4']);
    assert.equal(ds.meta.source.domain, 'source');
    await assertRejects({ input: join(FIXTURES, 'peterrec.csv'), format: 'peterrec', domain: 'movies' }, /no interactions in domain "movies" \(domains: source, target\)/);
    await assertRejects({ input: writeInput('nodomain.csv', LOG_CSV), domain: 'A' }, /--domain needs a domain column/);
  });

  it('quotes and glob characters in paths and column names are taken literally', async () => {
    const input = join(tmp, `it's [1]*.csv`);
    writeFileSync(input, 'us"er,item\n1,a\n1,b\n');
    writeFileSync(join(tmp, `it's [1]x.csv`), 'us"er,item\n2,c\n2,d\n'); // what the glob `*` would also match
    assert.deepEqual(rawSequences(await build({ input, userCol: 'us"er' })), { 1: ['a', 'b'] });
  });

  it('a log without timestamps keeps its input order (space-separated, like the SASRec files)', async () => {
    const input = writeInput('log.txt', '2 9\n1 5\n2 3\n1 4\n2 7\n');
    const ds = await build({ input, columns: ['user', 'item'], header: false, delimiter: ' ' });
    assert.deepEqual(rawSequences(ds), { 1: ['5', '4'], 2: ['9', '3', '7'] });
    assert.equal(ds.meta.source.timeOrder, 'input order');
  });
});

describe('ingest: vocabulary and filters', () => {
  it('indices: users from 0 and items from 1 (0 is padding) in shortlex raw-id order (shorter first, then bytewise); every item is used', async () => {
    const rows = ['user,item'];
    for (const [u, i] of [['10', '100'], ['9', '2'], ['10', '30'], ['9', '100'], ['u2', 'b'], ['u2', 'a']]) rows.push(`${u},${i}`);
    const ds = await build({ input: writeInput('vocab.csv', rows.join('\n') + '\n') });
    assert.deepEqual(ds.users, ['9', '10', 'u2']);
    assert.deepEqual(ds.items, ['2', 'a', 'b', '30', '100']);
    assert.equal(new Set(ds.items).size, ds.items.length);
    assert.ok(ds.sequences.every((i) => i >= 1 && i <= ds.meta.numItems));
    const used = new Set(ds.sequences);
    assert.equal(used.size, ds.meta.numItems);
  });

  it('the item filter runs first, then the user filter on what is left', async () => {
    // Item r appears once: with --min-item-interactions 2 it goes, and user C (r, p) falls to one interaction.
    const log = 'user,item\nA,p\nA,q\nB,p\nB,q\nC,r\nC,p\nD,q\n';
    const { dataset, summary } = await buildDataset({ input: writeInput('filters.csv', log), minItemInteractions: 2 });
    assert.deepEqual(rawSequences(dataset), { A: ['p', 'q'], B: ['p', 'q'] });
    assert.deepEqual(
      { droppedUsers: summary.droppedUsers, droppedItems: summary.droppedItems, droppedInteractions: summary.droppedInteractions },
      { droppedUsers: 2, droppedItems: 1, droppedInteractions: 3 },
    );
    const loose = await build({ input: writeInput('filters.csv', log), minUserInteractions: 1 });
    assert.equal(loose.meta.numUsers, 4);
  });

  it('attributes with a header: the key is the user column, users without a row get null, extra rows are ignored', async () => {
    const attributes = writeInput('users.csv', 'age,user,gender\n30,B,f\n41,A,\n99,Z,m\n');
    const ds = await build({ input: writeInput('log.csv', LOG_CSV), attributes });
    assert.deepEqual(ds.meta.attributes, ['age', 'gender']);
    assert.deepEqual(ds.attributes, { age: ['41', '30'], gender: [null, 'f'] });
    const byFirstColumn = writeInput('users.csv', 'id,level\nB,2\n');
    assert.deepEqual((await build({ input: writeInput('log.csv', LOG_CSV), attributes: byFirstColumn })).attributes, { level: [null, '2'] });
  });
});

describe('ingest: bad input fails with one line naming the file and the problem, writing nothing', () => {
  it('a nonexistent input file', async () => {
    await assertRejects({ input: join(tmp, 'nope.csv') }, /nope\.csv: no such input file/);
  });

  it('an empty file, and a file with only a header', async () => {
    await assertRejects({ input: writeInput('empty.csv', '') }, /empty\.csv: empty file/);
    await assertRejects({ input: writeInput('header.csv', 'user,item\n') }, /header\.csv: no interactions/);
  });

  it('a missing column: names it and lists the columns found', async () => {
    await assertRejects({ input: writeInput('cols.csv', 'uid,item\n1,a\n1,b\n') }, /cols\.csv: missing user column 'user'.*found columns: uid, item/);
    await assertRejects({ input: writeInput('cols.csv', LOG_CSV), timeCol: 'ts' }, /missing timestamp column 'ts'; found columns: user, item, timestamp/);
  });

  it('a timestamp that is not a number: names the column, the line and the value', async () => {
    const input = writeInput('time.csv', 'user,item,timestamp\n1,a,5\n1,b,yesterday\n1,c,soon\n');
    await assertRejects({ input }, /time\.csv line 3: timestamp column 'timestamp' has "yesterday", which is not a number or a date-time \(1 more like it\)/);
  });

  it('an empty id', async () => {
    await assertRejects({ input: writeInput('ids.csv', 'user,item\n1,a\n,b\n') }, /ids\.csv line 3: empty id in column 'user'/);
  });

  it('every user below --min-user-interactions leaves nothing', async () => {
    await assertRejects({ input: writeInput('single.csv', 'user,item\n1,a\n2,a\n3,b\n') }, /single\.csv: nothing left after filtering: all 3 users have fewer than 2/);
  });

  it('--columns that do not match the file, and a file that is not what its extension says', async () => {
    await assertRejects({ input: join(FIXTURES, 'u.data'), columns: ['user', 'item'], header: false, delimiter: '\t' }, /u\.data: --columns names 2 columns .* the file has 4/);
    await assertRejects({ input: writeInput('bad.parquet', 'not parquet\n') }, /bad\.parquet: cannot read as parquet: /);
  });

  it('a PeterRec line without the empty field, and a missing attribute file', async () => {
    await assertRejects({ input: writeInput('p.csv', '1,2,,3\n4,5,6\n'), format: 'peterrec' }, /p\.csv line 2: no empty field between source and target/);
    await assertRejects({ input: writeInput('log.csv', LOG_CSV), attributes: join(tmp, 'none.csv') }, /none\.csv: no such attribute file/);
  });

  it('the CLI exits non-zero with the message on stderr, and prints a JSON summary on success', () => {
    const out = freshOut();
    const bad = spawnSync(process.execPath, [CLI, 'ingest', writeInput('time.csv', 'user,item,timestamp\n1,a,x\n1,b,2\n'), '--out', out], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^graftrec: DataError: .*time\.csv line 2: timestamp column 'timestamp' has "x"/);
    assert.equal(existsSync(out), false);

    const unknownFlag = spawnSync(process.execPath, [CLI, 'ingest', 'x.csv', '--out', out, '--colour'], { encoding: 'utf8' });
    assert.notEqual(unknownFlag.status, 0);
    assert.match(unknownFlag.stderr, /unknown option '--colour'/);

    const good = spawnSync(process.execPath, [CLI, 'ingest', writeInput('log.csv', LOG_CSV), '--out', out, '--json'], { encoding: 'utf8' });
    assert.equal(good.status, 0, good.stderr);
    const summary = JSON.parse(good.stdout) as Record<string, unknown>;
    assert.deepEqual([summary.users, summary.items, summary.interactions, summary.droppedUsers], [2, 4, 5, 1]);
    assert.ok(existsSync(join(out, 'dataset.json')));
  });
});

const IN_CI = process.env.CI === 'true';
describe('ingest: real data', { skip: !existsSync(AMAZON) && !IN_CI && `${AMAZON} not present` }, () => {
  it('Amazon Video Games (SASRec preprocessing): 287,107 interactions, users with one interaction dropped', async () => {
    assert.ok(existsSync(AMAZON), `${AMAZON} is missing; CI=true expects the shared data beside the repository`);
    const { dataset, summary } = await buildDataset({ input: AMAZON, columns: ['user', 'item'], header: false, delimiter: ' ' });
    assert.equal(summary.inputRows, 287_107);
    assert.equal(summary.users + summary.droppedUsers, 31_013);
    assert.equal(summary.items + summary.droppedItems, 23_715);
    // Users and items are already numbered 1..n in that file; shortlex order keeps that numbering.
    assert.equal(dataset.items[0], '1');
    assert.ok(dataset.meta.numInteractions === summary.interactions && summary.interactions > 280_000);
  });
});
