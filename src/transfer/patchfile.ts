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
import { encodeSafetensors, floatTensors, readSafetensors } from '../io/safetensors.js';
import { Parameter, Rng } from '../tensor/index.js';
import { LoadedModel, parameterTensors } from '../train/checkpoint.js';
import { ClassifyResult, classifierHead } from './classify.js';
import { PATCH_INSERTIONS, PatchInsertion, graftPatches } from './insertion.js';

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

export interface AppliedPatch {
  card: TaskCard;
  head: Parameter[];
}

/**
 * Grafts a saved task onto a loaded base model: checks the base fingerprint, rebuilds the patches and head the
 * card describes, and loads the trained tensors into them (and into the backbone parameters the task trained).
 */
export async function applyPatchDir(patchDir: string, base: LoadedModel, baseDir: string): Promise<AppliedPatch> {
  const cardPath = join(patchDir, 'task.json');
  let card: TaskCard;
  try {
    card = JSON.parse(await readFile(cardPath, 'utf8')) as TaskCard;
  } catch (err) {
    throw new ModelError(`${cardPath}: not a readable task card (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (card.format !== PATCH_FORMAT) throw new ModelError(`${cardPath}: not a graftrec patch (format ${String(card.format)})`);
  if (card.baseFingerprint !== (await baseFingerprint(baseDir))) {
    throw new ModelError(`${patchDir}: this patch was trained on another base model than ${baseDir} (fingerprints differ); refusing to load it`);
  }
  const { model } = base;
  const params = new Map(model.parameters().map((p) => [p.name, p]));
  if (card.insertion !== null) {
    if (!PATCH_INSERTIONS.includes(card.insertion as PatchInsertion)) throw new ModelError(`${cardPath}: unknown insertion ${card.insertion}`);
    const patches = graftPatches(model, card.insertion as PatchInsertion, new Rng(0), { bottleneck: card.patchDim ?? undefined });
    for (const p of patches.flatMap((q) => q.parameters())) params.set(p.name, p);
  }
  const head = classifierHead(card.classes.length, model.config.dim, new Rng(0));
  for (const p of head) params.set(p.name, p);
  const weightsPath = join(patchDir, 'patch.safetensors');
  const tensors = floatTensors(await readSafetensors(weightsPath), weightsPath);
  for (const [name, t] of tensors) {
    const p = params.get(name);
    if (!p) throw new ModelError(`${weightsPath}: tensor ${name} has no place in the model this card describes`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new ModelError(`${weightsPath}: tensor ${name} has shape [${t.shape.join(', ')}], expected [${p.shape.join(', ')}]`);
    }
    p.data.set(t.data);
  }
  return { card, head };
}
