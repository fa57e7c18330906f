import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataError } from '../../src/errors.js';
import {
  INTERACTIONS_HEADER,
  LIFE_STAGES,
  MAX_AGE,
  MIN_AGE,
  USERS_HEADER,
  evaluatePlantedStructure,
  generateSynthetic,
  renderInteractionsCsv,
  renderManifest,
  renderUsersCsv,
  writeSynthetic,
  type SyntheticData,
  type SyntheticUser,
} from '../../src/data/synth.js';
import { CLI as cli } from '../helpers/cli.js';

const SMALL = { users: 300, items: 100, seed: 7 };
const tmp = mkdtempSync(join(tmpdir(), 'graftrec-synth-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Row {
  user: string;
  item: string;
  timestamp: number;
  domain: string;
}

function parseInteractions(csv: string): { header: string; rows: Row[] } {
  const lines = csv.trimEnd().split('\n');
  const rows = lines.slice(1).map((line) => {
    const fields = line.split(',');
    assert.equal(fields.length, 4, `row "${line}" does not have 4 fields`);
    const [user, item, timestamp, domain] = fields as [string, string, string, string];
    assert.match(timestamp, /^\d+$/, `timestamp "${timestamp}" is not an integer`);
    return { user, item, timestamp: Number(timestamp), domain };
  });
  return { header: lines[0]!, rows };
}

function mostFrequentTopic(data: SyntheticData, user: SyntheticUser): number {
  const topicOf = data.domains[0]!.itemTopic;
  const counts = new Map<number, number>();
  let best = -1;
  for (const item of user.items[0]!) {
    const t = topicOf[item]!;
    const n = (counts.get(t) ?? 0) + 1;
    counts.set(t, n);
    if (best < 0 || n > counts.get(best)!) best = t;
  }
  return best;
}

function mostCommon<T>(values: T[]): T {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
}

/** Accuracy on the second half of the users of "predict the label most common among training users with my top topic". */
function topicClassifierAccuracy(data: SyntheticData, label: (u: SyntheticUser) => string): { majority: number; byTopic: number } {
  const half = data.users.length >> 1;
  const train = data.users.slice(0, half);
  const test = data.users.slice(half);
  const majority = mostCommon(train.map(label));
  const labelsByTopic = new Map<number, string[]>();
  for (const u of train) {
    const t = mostFrequentTopic(data, u);
    labelsByTopic.set(t, [...(labelsByTopic.get(t) ?? []), label(u)]);
  }
  let majorityHits = 0;
  let topicHits = 0;
  for (const u of test) {
    const labels = labelsByTopic.get(mostFrequentTopic(data, u));
    if (label(u) === majority) majorityHits++;
    if (label(u) === (labels ? mostCommon(labels) : majority)) topicHits++;
  }
  return { majority: majorityHits / test.length, byTopic: topicHits / test.length };
}

describe('synthetic data: files', () => {
  it('the same seed gives the same bytes; another seed gives other data', async () => {
    const render = (data: SyntheticData) => [renderInteractionsCsv(data), renderUsersCsv(data), renderManifest(data)];
    const first = render(generateSynthetic(SMALL));
    assert.deepEqual(render(generateSynthetic(SMALL)), first);
    const other = render(generateSynthetic({ ...SMALL, seed: 8 }));
    assert.notEqual(other[0], first[0]);
    assert.notEqual(other[1], first[1]);

    const a = join(tmp, 'same-a');
    const b = join(tmp, 'same-b');
    await writeSynthetic(a, SMALL);
    await writeSynthetic(b, SMALL);
    for (const file of ['interactions.csv', 'users.csv', 'synth.json']) {
      assert.ok(readFileSync(join(a, file)).equals(readFileSync(join(b, file))), `${file} differs between two runs`);
    }
    assert.equal(readFileSync(join(a, 'interactions.csv'), 'utf8'), first[0]);
  });

  it('interactions.csv has the exact header, domain-prefixed item ids and integer timestamps', () => {
    const data = generateSynthetic(SMALL);
    const { header, rows } = parseInteractions(renderInteractionsCsv(data));
    assert.equal(header, INTERACTIONS_HEADER);
    assert.equal(header, 'user,item,timestamp,domain');
    assert.equal(rows.length, data.interactionCount);
    for (const r of rows) {
      assert.match(r.user, /^u[1-9]\d*$/);
      assert.match(r.item, /^[ab][1-9]\d*$/);
      assert.ok(r.domain === 'A' || r.domain === 'B', `domain ${r.domain}`);
      assert.equal(r.item[0], r.domain.toLowerCase(), `item ${r.item} in domain ${r.domain}`);
      assert.ok(Number(r.item.slice(1)) <= SMALL.items);
    }
    assert.ok(rows.some((r) => r.domain === 'B'));
  });

  it('each user’s rows are contiguous, strictly increasing in time, domain A before B, no repeated item', () => {
    const { rows } = parseInteractions(renderInteractionsCsv(generateSynthetic(SMALL)));
    const finished = new Set<string>();
    let previous: Row | undefined;
    const seen = new Set<string>();
    let lengthA = 0;
    const checkUserEnd = () => {
      if (previous) assert.ok(lengthA >= 3, `${previous.user} has only ${lengthA} items in domain A`);
    };
    for (const r of rows) {
      if (r.user !== previous?.user) {
        checkUserEnd();
        assert.ok(!finished.has(r.user), `${r.user} rows are not contiguous`);
        if (previous) finished.add(previous.user);
        seen.clear();
        lengthA = 0;
        assert.equal(r.domain, 'A', `${r.user} does not start in domain A`);
      } else {
        assert.ok(r.timestamp > previous.timestamp, `${r.user}: timestamp ${r.timestamp} after ${previous.timestamp}`);
        assert.ok(!(previous.domain === 'B' && r.domain === 'A'), `${r.user}: domain A after B`);
      }
      assert.ok(!seen.has(r.item), `${r.user} repeats ${r.item}`);
      seen.add(r.item);
      if (r.domain === 'A') lengthA++;
      previous = r;
    }
    checkUserEnd();
    assert.equal(finished.size + 1, SMALL.users);
  });

  it('users.csv has one row per user with valid gender, age and life stage', () => {
    const data = generateSynthetic(SMALL);
    const lines = renderUsersCsv(data).trimEnd().split('\n');
    assert.equal(lines[0], USERS_HEADER);
    assert.equal(lines[0], 'user,gender,age,life_stage');
    const rows = lines.slice(1).map((l) => l.split(','));
    assert.deepEqual(rows.map((r) => r[0]), Array.from({ length: SMALL.users }, (_, i) => `u${i + 1}`));
    for (const [user, gender, age, stage, ...rest] of rows) {
      assert.equal(rest.length, 0, `${user}: extra fields`);
      assert.ok(gender === 'M' || gender === 'F', `${user}: gender ${gender}`);
      assert.match(age!, /^\d+$/);
      assert.ok(Number(age) >= MIN_AGE && Number(age) <= MAX_AGE, `${user}: age ${age}`);
      assert.ok((LIFE_STAGES as readonly string[]).includes(stage!), `${user}: life stage ${stage}`);
    }
    const interactionUsers = new Set(parseInteractions(renderInteractionsCsv(data)).rows.map((r) => r.user));
    assert.equal(interactionUsers.size, SMALL.users);
  });

  it('two domains overlap in about the requested share of users; one domain is all A and the same A data', () => {
    const two = generateSynthetic({ ...SMALL, users: 1000 });
    const inB = two.users.filter((u) => u.items[1]!.length > 0);
    assert.ok(inB.length / two.users.length > 0.68 && inB.length / two.users.length < 0.82, `overlap ${inB.length / two.users.length}`);
    assert.ok(inB.every((u) => u.items[1]!.length >= 3));

    const one = generateSynthetic({ ...SMALL, users: 1000, domains: 1 });
    const { rows } = parseInteractions(renderInteractionsCsv(one));
    assert.ok(rows.every((r) => r.domain === 'A' && r.item.startsWith('a')));
    const rowsA = parseInteractions(renderInteractionsCsv(two)).rows.filter((r) => r.domain === 'A');
    assert.deepEqual(rows, rowsA);
    assert.equal(renderUsersCsv(one), renderUsersCsv(two));
  });

  it('writing replaces an earlier synth directory but refuses to replace anything else', async () => {
    const dir = join(tmp, 'replace');
    await writeSynthetic(dir, SMALL);
    const summary = await writeSynthetic(dir, { ...SMALL, users: 50 });
    assert.equal(summary.users, 50);
    assert.equal(readFileSync(join(dir, 'users.csv'), 'utf8').trimEnd().split('\n').length, 51);

    const foreign = join(tmp, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'precious.txt'), 'keep me');
    await assert.rejects(writeSynthetic(foreign, SMALL), (e: unknown) => e instanceof DataError && /not a graftrec synth output/.test(e.message));
    assert.equal(readFileSync(join(foreign, 'precious.txt'), 'utf8'), 'keep me');
  });

  it('rejects bad options with a DataError naming the option', () => {
    const bad: [Record<string, number>, RegExp][] = [
      [{ users: 0 }, /users must be a positive integer/],
      [{ items: 150.5 }, /items must be a positive integer/],
      [{ domains: 3 }, /domains must be 1 or 2/],
      [{ seed: -1 }, /seed must be an integer/],
      [{ meanLength: 2 }, /mean length must be a number ≥ 3/],
      [{ overlap: 1.5 }, /overlap must be a fraction/],
      [{ items: 50 }, /too few for mean length 20/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => generateSynthetic(options), (e: unknown) => e instanceof DataError && message.test(e.message), JSON.stringify(options));
    }
  });
});

describe('synthetic data: planted structure (default size)', () => {
  const data = generateSynthetic();

  it('the true next-item distribution beats popularity by at least 2× in HR@10 on each domain', () => {
    const source = evaluatePlantedStructure(data);
    assert.equal(source.users, data.users.length);
    assert.ok(source.popularityHitRate > 0.03 && source.popularityHitRate < 0.2, `popularity HR@10 ${source.popularityHitRate}`);
    assert.ok(source.oracleHitRate >= 2 * source.popularityHitRate, JSON.stringify(source));
    const target = evaluatePlantedStructure(data, { domain: 1 });
    assert.ok(target.oracleHitRate >= 2 * target.popularityHitRate, JSON.stringify(target));
  });

  it('gender and life stage are predictable from the most frequent topic, well above the majority class', () => {
    const gender = topicClassifierAccuracy(data, (u) => u.attributes.gender);
    assert.ok(gender.byTopic >= gender.majority + 0.15, `gender ${JSON.stringify(gender)}`);
    const stage = topicClassifierAccuracy(data, (u) => u.attributes.lifeStage);
    assert.ok(stage.byTopic >= stage.majority + 0.15, `life stage ${JSON.stringify(stage)}`);
  });

  it('age is correlated with behaviour: the mean age of training users sharing a top topic', () => {
    const half = data.users.length >> 1;
    const train = data.users.slice(0, half);
    const test = data.users.slice(half);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const overall = mean(train.map((u) => u.attributes.age));
    const agesByTopic = new Map<number, number[]>();
    for (const u of train) {
      const t = mostFrequentTopic(data, u);
      agesByTopic.set(t, [...(agesByTopic.get(t) ?? []), u.attributes.age]);
    }
    const predicted = test.map((u) => mean(agesByTopic.get(mostFrequentTopic(data, u)) ?? [overall]));
    const actual = test.map((u) => u.attributes.age);
    const mp = mean(predicted);
    const ma = mean(actual);
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    predicted.forEach((p, i) => {
      sxy += (p - mp) * (actual[i]! - ma);
      sxx += (p - mp) ** 2;
      syy += (actual[i]! - ma) ** 2;
    });
    const correlation = sxy / Math.sqrt(sxx * syy);
    assert.ok(correlation >= 0.3, `correlation of age with its by-topic prediction ${correlation}`);
  });

  it('the domain-A sequence predicts domain-B choices (the same taste drives both)', () => {
    const [source, target] = data.domains as [SyntheticData['domains'][0], SyntheticData['domains'][0]];
    const perSegment = new Array<number>(LIFE_STAGES.length).fill(0);
    let matching = 0;
    let total = 0;
    for (const u of data.users) {
      const segmentFromA = source.topicSegment[mostFrequentTopic(data, u)]!;
      for (const item of u.items[1]!) {
        const segment = target.topicSegment[target.itemTopic[item]!]!;
        perSegment[segment]!++;
        if (segment === segmentFromA) matching++;
        total++;
      }
    }
    const largestShare = Math.max(...perSegment) / total;
    assert.ok(matching / total >= largestShare + 0.15, `B items in the A segment ${matching / total} vs largest B segment ${largestShare}`);
  });
});

describe('graftrec synth (command line)', () => {
  it('writes the files and prints a JSON summary', () => {
    const out = join(tmp, 'cli');
    const result = spawnSync(process.execPath, [cli, 'synth', '--out', out, '--users', '200', '--items', '100', '--seed', '3', '--json'], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    assert.equal(summary.users, 200);
    assert.equal(summary.items, 100);
    assert.equal(summary.domains, 2);
    assert.equal(summary.out, out);
    assert.equal(typeof summary.interactions, 'number');
    assert.equal(typeof summary.seconds, 'number');
    assert.equal(readFileSync(join(out, 'interactions.csv'), 'utf8'), renderInteractionsCsv(generateSynthetic({ users: 200, items: 100, seed: 3 })));
    const manifest = JSON.parse(readFileSync(join(out, 'synth.json'), 'utf8')) as { options: Record<string, number> };
    assert.equal(manifest.options.seed, 3);
  });

  it('rejects invalid options with a message and a non-zero exit', () => {
    for (const args of [['--domains', '3'], ['--users', '0'], ['--items', 'many'], ['--seed', '-2']]) {
      const result = spawnSync(process.execPath, [cli, 'synth', '--out', join(tmp, 'never'), ...args], { encoding: 'utf8' });
      assert.notEqual(result.status, 0, args.join(' '));
      assert.match(result.stderr, /must be/, args.join(' '));
    }
    const result = spawnSync(process.execPath, [cli, 'synth', '--out', join(tmp, 'never'), '--items', '30'], { encoding: 'utf8' });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /DataError: .*too few/);
  });
});
