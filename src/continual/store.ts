/**
 * A continual model on disk (Conure): one network whose tasks share its weight matrices by entries.
 *
 *   DIR/continual.json            what the model is: the base it was grown from, its tasks in order, integrity
 *   DIR/config.json, items.json   the network and its item vocabulary, as in the base model's directory
 *   DIR/weights.safetensors       the one weight set: every entry some task owns (free entries 0), and what the
 *                                 pretraining task alone uses (item encoder, output table, its LayerNorms)
 *   DIR/tasks/NAME/mask.safetensors
 *                                 the entries task NAME owns, one bit each (U8, per weight matrix)
 *   DIR/tasks/NAME/task.json, patch.safetensors
 *                                 every later task's card and its own tensors (LayerNorms, biases, head), as a
 *                                 patch directory with strategy `conure`
 *
 * The directory is written as a whole (writeDirAtomic): adding a task that is interrupted leaves it as it was.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ProvenanceSchema } from '../config/provenance.js';
import { ModelError } from '../errors.js';
import { writeDirAtomic } from '../io/atomic.js';
import { TensorMap, encodeSafetensors, readSafetensors } from '../io/safetensors.js';
import { LoadedModel, MODEL_DESCRIPTION_FILES, loadModelDir } from '../train/checkpoint.js';
import { TaskModel, baseFingerprint, loadPatchDir } from '../transfer/patchfile.js';
import { MAX_TASKS, Owners, packTaskMask, prunableParameters, unpackTaskMask, valuesForTask } from './owners.js';

export const CONTINUAL_FORMAT = 'graftrec-continual' as const;
const MANIFEST = 'continual.json';
const WEIGHTS = 'weights.safetensors';
const MASK = 'mask.safetensors';

const TaskEntrySchema = z.object({
  name: z.string().min(1),
  type: z.enum(['next-item', 'classify', 'recommend']),
  /** The share of the then free entries the task kept. */
  keep: z.number().gt(0).lt(1),
  /** Entries the task owns, and entries still free after it. */
  owned: z.number().int().nonnegative(),
  freeAfter: z.number().int().nonnegative(),
  /** The task's test metrics when it was learned (informational; the next-item task's before and after pruning). */
  test: z.record(z.string(), z.unknown()),
});
export type ContinualTaskEntry = z.infer<typeof TaskEntrySchema>;

const ManifestSchema = z.object({
  format: z.literal(CONTINUAL_FORMAT),
  version: z.literal(1),
  /** sha256 of the pretrained base's weights file: the continual model shares its items and answers beside it. */
  baseFingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  /** sha256 of weights.safetensors as written with this manifest (checked on load). */
  weightsFingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  tasks: z.array(TaskEntrySchema).min(1).max(MAX_TASKS),
  provenance: ProvenanceSchema.optional(),
});
export type ContinualManifest = z.infer<typeof ManifestSchema>;

/** A continual model in memory. */
export interface ContinualModel {
  dir: string;
  manifest: ContinualManifest;
  /** The network holding the shared weights (every owned entry) and the pretraining task's own tensors. */
  shared: LoadedModel;
  owners: Owners;
}

export function taskDir(dir: string, name: string): string {
  return join(dir, 'tasks', name);
}

export async function readContinualManifest(dir: string): Promise<ContinualManifest> {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) throw new ModelError(`${dir}: not a continual model (no ${MANIFEST}); create one with graftrec continual init`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ModelError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if ((raw as { format?: unknown } | null)?.format !== CONTINUAL_FORMAT) {
    throw new ModelError(`${path}: not a graftrec continual model (format ${String((raw as { format?: unknown } | null)?.format)})`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ModelError(`${path}: invalid: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Loads a continual model: the shared weights (checked against the manifest) and every task's mask. */
export async function loadContinual(dir: string): Promise<ContinualModel> {
  const manifest = await readContinualManifest(dir);
  if ((await baseFingerprint(dir, WEIGHTS)) !== manifest.weightsFingerprint) {
    throw new ModelError(`${join(dir, WEIGHTS)}: does not match ${join(dir, MANIFEST)} (fingerprints differ); the continual model is damaged`);
  }
  const shared = await loadModelDir(dir, WEIGHTS);
  const owners: Owners = new Map(prunableParameters(shared.model).map((p) => [p.name, new Uint8Array(p.size)]));
  for (const [i, task] of manifest.tasks.entries()) {
    const path = join(taskDir(dir, task.name), MASK);
    const { tensors } = await readSafetensors(path);
    for (const [name, own] of owners) {
      const bits = tensors.get(name);
      if (bits?.dtype !== 'U8' || !unpackTaskMask(bits.data, own, i + 1)) {
        throw new ModelError(`${path}: no valid mask for ${name} (U8, ${Math.ceil(own.length / 8)} bytes, no entry of an earlier task)`);
      }
    }
  }
  return { dir, manifest, shared, owners };
}

/** Task t's share of the shared weight matrices (entries of tasks 1..t), by parameter name. */
export function weightsForTask(m: Pick<ContinualModel, 'shared' | 'owners'>, task: number): Map<string, Float32Array> {
  return new Map(prunableParameters(m.shared.model).map((p) => [p.name, valuesForTask(p.data, m.owners.get(p.name)!, task)]));
}

/** Every task after the pretraining one, as a task on its own copy of the network (what predict and serve run). */
export async function continualTasks(m: ContinualModel): Promise<TaskModel[]> {
  const out: TaskModel[] = [];
  for (const [i, task] of m.manifest.tasks.entries()) {
    if (i === 0) continue;
    out.push(await loadPatchDir(taskDir(m.dir, task.name), m.shared, m.manifest.baseFingerprint, weightsForTask(m, i + 1)));
  }
  return out;
}

/** What a write puts in the directory besides the masks. */
export interface ContinualWrite {
  /** Where the network's description files (config, items, item side) are copied from. */
  describedBy: string;
  manifest: Omit<ContinualManifest, 'weightsFingerprint'>;
  /** The shared weights: every parameter of the network, owned entries only in the prunable ones. */
  weights: TensorMap;
  backbone: string;
  owners: Owners;
  /** Writes every task directory after the pretraining task's (its card and tensors) into `tasksDir`. */
  writeTasks: (tasksDir: string) => Promise<void>;
}

/** Writes (or replaces, as a whole) the continual model at `dir`. */
export async function writeContinual(dir: string, w: ContinualWrite): Promise<void> {
  const weights = encodeSafetensors(w.weights, { format: 'pt', backbone: w.backbone });
  await writeDirAtomic(dir, async (tmp) => {
    for (const f of MODEL_DESCRIPTION_FILES) if (existsSync(join(w.describedBy, f))) await copyFile(join(w.describedBy, f), join(tmp, f));
    await writeFile(join(tmp, WEIGHTS), weights);
    await mkdir(join(tmp, 'tasks'));
    await w.writeTasks(join(tmp, 'tasks'));
    for (const [i, task] of w.manifest.tasks.entries()) {
      const masks: TensorMap = new Map([...w.owners].map(([name, own]) => {
        const bits = packTaskMask(own, i + 1);
        return [name, { dtype: 'U8' as const, shape: [bits.length], data: bits }];
      }));
      await mkdir(taskDir(tmp, task.name), { recursive: true });
      await writeFile(join(taskDir(tmp, task.name), MASK), encodeSafetensors(masks));
    }
    const manifest: ContinualManifest = { ...w.manifest, weightsFingerprint: createHash('sha256').update(weights).digest('hex') };
    await writeFile(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  });
}
