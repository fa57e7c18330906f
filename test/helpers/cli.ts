/** The command-line program as the tests run it: one child process per command, and the synthetic dataset most CLI tests start from. */
import assert from 'node:assert/strict';
import { SpawnSyncReturns, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;

/** `graftrec ARGS…` in a child process; stdout and stderr as text. */
export function runCli(...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

/**
 * `graftrec synth --out DIR/raw SYNTH_ARGS…`, then `graftrec ingest` of its interactions with its users' attributes
 * into DIR/ds (asserting both succeed): the dataset directory.
 */
export function cliSyntheticDataset(dir: string, ...synthArgs: string[]): string {
  const synth = runCli('synth', '--out', join(dir, 'raw'), ...synthArgs);
  assert.equal(synth.status, 0, synth.stderr);
  const ds = join(dir, 'ds');
  const ingested = runCli('ingest', join(dir, 'raw', 'interactions.csv'), '--attributes', join(dir, 'raw', 'users.csv'), '--out', ds);
  assert.equal(ingested.status, 0, ingested.stderr);
  return ds;
}
