import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/datasets.js';

const script = new URL('../../../scripts/ml100k-profile-tasks.sh', import.meta.url).pathname;

describe('scripts/ml100k-profile-tasks.sh', () => {
  it('adds the postal region and one yes/no column per listed occupation, blank region for a non-numeric zip', () => {
    const users = join(tempDir(), 'u.user');
    writeFileSync(users, '1|24|M|technician|85711\n2|53|F|other|94043\n3|33|M|student|T8H1N\n');
    const r = spawnSync('bash', [script, users], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // Columns after zip: region, then student educator administrator engineer programmer librarian writer executive scientist artist technician.
    assert.deepEqual(r.stdout.trim().split('\n'), [
      '1|24|M|technician|85711|8|no|no|no|no|no|no|no|no|no|no|yes',
      '2|53|F|other|94043|9|no|no|no|no|no|no|no|no|no|no|no',
      '3|33|M|student|T8H1N||yes|no|no|no|no|no|no|no|no|no|no',
    ]);
  });

  it('refuses a missing file with a usage line', () => {
    const r = spawnSync('bash', [script, join(tempDir(), 'none')], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /usage: /);
  });
});
