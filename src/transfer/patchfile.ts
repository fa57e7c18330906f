/**
 * A finished task as a small directory: `patch.safetensors` holds only the tensors the task trained (patches,
 * second LayerNorms, head — or more for the fine-* strategies), and `task.json` is its card: what the task is,
 * how it was trained, and the fingerprint of the base weights it must be loaded onto.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelError } from '../errors.js';
import { writeDirAtomic } from '../io/atomic.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { parameterTensors } from '../train/checkpoint.js';
import { ClassifyResult } from './classify.js';

export const PATCH_FORMAT = 'graftrec-patch';

export interface TaskCard {
  format: typeof PATCH_FORMAT;
  version: 1;
  task: string;
  type: 'classify';
  label: string;
  classes: string[];
  bins: number[] | null;
  strategy: string;
  insertion: string | null;
  patchDim: number | null;
  /** sha256 of the base model's weights file: a patch only loads onto the base it was trained on. */
  baseFingerprint: string;
  trainedParams: number;
  totalParams: number;
  test: ClassifyResult['test'];
}

export async function baseFingerprint(modelDir: string): Promise<string> {
  const path = join(modelDir, 'model.safetensors');
  try {
    return createHash('sha256').update(await readFile(path)).digest('hex');
  } catch (err) {
    throw new ModelError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export async function writePatchDir(dir: string, card: TaskCard, result: ClassifyResult): Promise<void> {
  await writeDirAtomic(dir, async (tmp) => {
    await writeFile(join(tmp, 'patch.safetensors'), encodeSafetensors(parameterTensors(result.trained)));
    await writeFile(join(tmp, 'task.json'), JSON.stringify(card, null, 2) + '\n');
  });
}
