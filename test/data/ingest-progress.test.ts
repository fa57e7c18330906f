import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ingest, type IngestProgress } from '../../src/data/ingest.js';
import { createStepProgress } from '../../src/train/progress.js';
import { tempDir } from '../helpers/datasets.js';
import { CLI } from '../helpers/cli.js';


let dir: string;
let log: string;

/** A stand-in terminal: what a bar draws, as text. */
function fakeTerminal(isTTY = true): NodeJS.WriteStream & { text: () => string } {
  let written = '';
  return {
    isTTY, columns: 120, write: (chunk: string) => ((written += chunk), true), text: () => written,
    on: () => undefined, removeListener: () => undefined,
  } as unknown as NodeJS.WriteStream & { text: () => string };
}

before(() => {
  dir = tempDir();
  log = join(dir, 'log.csv');
  writeFileSync(log, 'user,item,timestamp\n' + Array.from({ length: 400 }, (_, i) => `u${i % 40},i${(i * 7) % 30},${i}`).join('\n') + '\n');
});

describe('ingest progress', () => {
  it('reports its steps in order, each with a percentage in [0, 100]', async () => {
    const reports: IngestProgress[] = [];
    const attributes = join(dir, 'users.csv');
    writeFileSync(attributes, 'user,gender\n' + Array.from({ length: 40 }, (_, u) => `u${u},${u % 2 ? 'F' : 'M'}`).join('\n') + '\n');
    const out = join(dir, 'ds');
    await ingest({ input: log, attributes, out, onProgress: (p) => reports.push(p) });
    const steps = [...new Set(reports.map((r) => r.step))];
    assert.deepEqual(steps, ['reading log.csv', 'filtering and numbering users and items', 'ordering sequences', 'joining users.csv', `writing ${out}`]);
    assert.ok(reports.every((r) => r.percent >= 0 && r.percent <= 100), JSON.stringify(reports));
  });

  it('the command line keeps stdout to the summary and draws no bar off a terminal', () => {
    const r = spawnSync(process.execPath, [CLI, 'ingest', log, '--out', join(dir, 'ds-json'), '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout.trim().split('\n').length, 1);
    assert.equal((JSON.parse(r.stdout) as { interactions: number }).interactions, 400);
  });

  it('a terminal gets a bar per step once the run is long enough; quiet or off a terminal, none', () => {
    assert.equal(createStepProgress(fakeTerminal(false)), null);
    assert.equal(createStepProgress(fakeTerminal(), true), null);

    const late = fakeTerminal();
    const quick = createStepProgress(late, false, 60_000)!;
    quick.update('reading log.csv', 50);
    quick.stop(true);
    assert.equal(late.text(), '', 'a run done before the delay draws nothing');

    const term = fakeTerminal();
    const bar = createStepProgress(term, false, 0)!;
    bar.update('reading big.csv', 40);
    bar.update('ordering sequences', 10);
    bar.stop(true);
    const text = term.text();
    assert.match(text, /reading big\.csv \[.*\] 100%/, 'a finished step ends full');
    assert.match(text, /ordering sequences \[.*\] 100%/);

    const failed = fakeTerminal();
    const broken = createStepProgress(failed, false, 0)!;
    broken.update('reading bad.csv', 30);
    broken.stop(false);
    assert.doesNotMatch(failed.text(), /100%/, 'a failed step is not drawn as done');
  });
});
