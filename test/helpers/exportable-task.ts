/** Tasks fine-tuned on an exportable model through the CLI, exported with --patch and checked in onnxruntime. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { predictProbabilities } from '../../src/transfer/classify.js';
import { baseFingerprint, loadPatchDir } from '../../src/transfer/patchfile.js';
import { runCli } from './cli.js';
import { ExportableModel, maxAbsDiff, runOnnx } from './exportable-model.js';

/** A gender classifier on `m` (`flags`: more finetune flags); its patch directory. */
export function finetune(m: ExportableModel, name: string, ...flags: string[]): string {
  const out = join(m.dir, name);
  // A high learning rate for a few epochs moves the patches well away from the identity they start near.
  const r = runCli('finetune', '--model', m.model, '--data', m.data, '--task', 'gender', '--label', 'gender', '--epochs', '3',
    '--lr', '0.02', '--patience', '3', '--seed', '3', '--threads', '1', '--out', out, '--quiet', ...flags);
  assert.equal(r.status, 0, r.stderr);
  return out;
}

/** The histories as the model reads them: at most max-len items, max-len - 1 for a masked model (the mask token's room). */
export function exportableHistories(m: ExportableModel): { hs: Int32Array[]; room: number } {
  const room = m.loaded.config.model.objective === 'masked' ? m.maxLen - 1 : m.maxLen;
  return { hs: m.histories.map((h) => h.subarray(Math.max(0, h.length - room))), room };
}

/**
 * Exports the classify task, runs it in onnxruntime on the test histories, and compares with graftrec's own
 * reading (≤ 1e-4); returns the max abs diffs. `patchesMatter`: the task's network differs from the base's.
 */
export async function checkTask(m: ExportableModel, patch: string, patchesMatter = true): Promise<{ user: number; probabilities: number }> {
  const out = `${patch}.onnx`;
  const r = runCli('export', 'onnx', '--model', m.model, '--patch', patch, '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const { hs, room } = exportableHistories(m);
  const task = await loadPatchDir(patch, m.loaded, await baseFingerprint(m.model));
  const users = task.head.encode(task.model, hs);
  const probs = predictProbabilities(task.model, task.head, hs);
  if (patchesMatter) assert.ok(maxAbsDiff(task.head.encode(m.loaded.model, hs), users) > 1e-3, 'the patches changed nothing');

  const result = await runOnnx(readFileSync(out), hs, room);
  assert.deepEqual(result.probabilities!.dims, [hs.length, 2]);
  const diff = { user: maxAbsDiff(result.user!.data as Float32Array, users), probabilities: maxAbsDiff(result.probabilities!.data as Float32Array, probs) };
  assert.ok(diff.user <= 1e-4 && diff.probabilities <= 1e-4, `max abs diff: user ${diff.user}, probabilities ${diff.probabilities}`);
  return diff;
}
