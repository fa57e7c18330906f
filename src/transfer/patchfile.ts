/**
 * A finished task as a small directory: `patch.safetensors` holds only the tensors the task trained (patches,
 * second LayerNorms, head — or more for the fine-* strategies), and `task.json` is its card: what the task is,
 * how it was trained, the fingerprint of the base weights it must be loaded onto, and its provenance.
 *
 * Loading a patch never modifies the base model: the task gets a copy of the base's module tree that shares
 * every tensor the patch does not replace, so one base in memory serves any number of tasks.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelError } from '../errors.js';
import { writeDirAtomic } from '../io/atomic.js';
import { DecodedSafetensors, TensorMap, encodeSafetensors, floatTensors, readSafetensors } from '../io/safetensors.js';
import { BACKBONES, POOLINGS } from '../config/schema.js';
import { ProvenanceSchema } from '../config/provenance.js';
import { UserEncoder } from '../models/encoder.js';
import { inputRows } from '../models/input-rows.js';
import { forItemCatalogue } from '../models/encoders.js';
import { ItemTokens } from '../models/item-encoder.js';
import { Parameter, Rng, noteParameterWrite } from '../tensor/index.js';
import { LoadedModel } from '../train/checkpoint.js';
import { PATCH_INSERTIONS, graftPatches } from './insertion.js';
import { STRATEGIES } from './strategies.js';
import { TaskHead, patchTensors, taskHead } from './head.js';
import { TransferAccounting } from './task.js';
import { ITEM_PAIRS_INDPTR, ITEM_PAIRS_TARGETS, ItemPairSupport } from './item-pairs.js';

export const PATCH_FORMAT = 'graftrec-patch' as const;

/**
 * How the task compared with its strongest baseline on the validation users when it was trained (see
 * validationVerdict in tasks.ts): what `info` and the server's task list say about whether it is worth serving.
 */
export const ValidationVerdictSchema = z.object({
  metric: z.enum(['log-loss', 'NDCG@10']),
  task: z.number(),
  baseline: z.string(),
  baselineValue: z.number(),
  /** The task is strictly better than the baseline on the validation users. */
  ahead: z.boolean(),
});
export type ValidationVerdict = z.infer<typeof ValidationVerdictSchema>;

const cardCommon = {
  format: z.literal(PATCH_FORMAT),
  version: z.literal(1),
  task: z.string().min(1),
  /** `conure`: a task of a continual model (continual/), which loads only with that model's masks. */
  strategy: z.enum([...STRATEGIES, 'conure']),
  insertion: z.enum(PATCH_INSERTIONS).nullable(),
  patchDim: z.number().int().positive().nullable(),
  /** The backbone of the base model (cards written before backbones existed were all NextItNet's). */
  backbone: z.enum(BACKBONES).default('nextitnet'),
  /** How the task reads a user (cards written before pooling existed read the last position of one window). */
  pooling: z.enum(POOLINGS).default('last'),
  windows: z.number().int().min(0).default(1),
  /** Whether the head adds a learned per-item vector averaged over the history (cards before it: no). */
  itemBag: z.boolean().default(false),
  /** sha256 of the base model's weights file: a patch only loads onto the base it was trained on. */
  baseFingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  trainedParams: z.number().int().nonnegative(),
  totalParams: z.number().int().nonnegative(),
  /** The task's test metrics as measured by `graftrec finetune` (informational). */
  test: z.record(z.string(), z.unknown()),
  /** Against the strongest baseline on the validation users (absent in cards written before it, and for Conure tasks). */
  verdict: ValidationVerdictSchema.optional(),
  /** What produced the patch (absent in patches written before it was recorded; informational). */
  provenance: ProvenanceSchema.optional(),
};

const taskCardSchema = z.discriminatedUnion('type', [
  z.object({
    ...cardCommon,
    type: z.literal('classify'),
    label: z.string(),
    classes: z.array(z.string()).min(2),
    bins: z.array(z.number()).nullable(),
  }),
  z.object({
    ...cardCommon,
    type: z.literal('recommend'),
    sourceDomain: z.string(),
    targetDomain: z.string(),
    /** Raw ids of the target items: row t of the head scores targetItems[t]. */
    targetItems: z.array(z.string()).min(1),
    /** Whether the head has an item-pair table (its support is stored as int32 tensors; cards before it: no). */
    itemPairs: z.boolean().default(false),
  }),
  z.object({
    ...cardCommon,
    type: z.literal('next-item'),
    /** Raw ids of the new platform's items, in the order of the dataset the task was trained on. */
    targetItems: z.array(z.string()).min(1),
  }),
]);

export type TaskCard = z.input<typeof taskCardSchema>;
type ParsedCard = z.infer<typeof taskCardSchema>;
export type TaskType = TaskCard['type'];

/** Rows of a task's head: one per class, or one per target item. */
export function headRows(card: TaskCard): number {
  if (card.type === 'next-item') return 0;
  return card.type === 'classify' ? card.classes.length : card.targetItems.length;
}

/** sha256 of a model directory's weights file (`weightsFile`: another one beside the config, a continual model's). */
export async function baseFingerprint(modelDir: string, weightsFile = 'model.safetensors'): Promise<string> {
  const path = join(modelDir, weightsFile);
  try {
    return createHash('sha256').update(await readFile(path)).digest('hex');
  } catch (err) {
    throw new ModelError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * A next-item task's own catalogue, which predict and serve score: its items' token ids (row i + 1 is
 * card.targetItems[i]; row 0 padding) and the popularity prior its evaluation added to the scores (null: none).
 */
export interface PlatformCatalogue {
  tokens: ItemTokens;
  prior: Float32Array | null;
}

/** Beside task.json: a next-item task's catalogue (tokens and prior), written with the task since predict needs it. */
const CATALOGUE_FILE = 'catalogue.safetensors';

/**
 * Writes a finished task: its trained tensors and, where its head has an item-pair table, that table's support
 * (int32, beside them); a next-item task also its catalogue.
 */
export async function writePatchDir(dir: string, card: TaskCard, task: Pick<TransferAccounting<TaskHead | null>, 'trained' | 'head'>,
  catalogue: PlatformCatalogue | null = null): Promise<void> {
  const parsed = taskCardSchema.parse(card);
  if ((parsed.type === 'next-item') !== (catalogue !== null)) throw new Error('internal: a next-item task is written with its catalogue, and only it');
  if ((parsed.type === 'recommend' && parsed.itemPairs) !== (task.head?.itemPairs != null)) {
    throw new Error('internal: the card and the tensors disagree on the item-pair table');
  }
  const tensors = patchTensors(task.trained, task.head);
  await writeDirAtomic(dir, async (tmp) => {
    await writeFile(join(tmp, 'patch.safetensors'), encodeSafetensors(tensors));
    await writeFile(join(tmp, 'task.json'), JSON.stringify(card, null, 2) + '\n');
    if (catalogue) await writeFile(join(tmp, CATALOGUE_FILE), encodeSafetensors(catalogueTensors(catalogue)));
  });
}

function catalogueTensors(c: PlatformCatalogue): TensorMap {
  const tensors: TensorMap = new Map([
    ['offsets', { dtype: 'I32', shape: [c.tokens.offsets.length], data: c.tokens.offsets }],
    ['tokens', { dtype: 'I32', shape: [c.tokens.tokens.length], data: c.tokens.tokens }],
  ]);
  if (c.prior) tensors.set('prior', { dtype: 'F32', shape: [c.prior.length], data: c.prior });
  return tensors;
}

/** A next-item task's catalogue, checked against its card's items; task dirs written before it was stored are refused. */
async function readCatalogue(patchDir: string, items: number): Promise<PlatformCatalogue> {
  const path = join(patchDir, CATALOGUE_FILE);
  if (!existsSync(path)) {
    throw new ModelError(`${patchDir}: a next-item task written before its catalogue was stored with it (${CATALOGUE_FILE} is missing); run finetune again to serve it`);
  }
  const { tensors } = await readSafetensors(path);
  const offsets = tensors.get('offsets');
  const tokens = tensors.get('tokens');
  const prior = tensors.get('prior');
  if (offsets?.dtype !== 'I32' || tokens?.dtype !== 'I32' || offsets.data.length !== items + 2 || offsets.data[items + 1] !== tokens.data.length) {
    throw new ModelError(`${path}: needs I32 tensors offsets (${items + 2} rows, one per item of the task card and padding) and tokens`);
  }
  if (prior && (prior.dtype !== 'F32' || prior.data.length !== items + 1)) throw new ModelError(`${path}: prior must be F32 with ${items + 1} values`);
  return { tokens: { offsets: offsets.data, tokens: tokens.data }, prior: prior ? (prior.data as Float32Array) : null };
}

/**
 * The item-pair support stored in a patch (taken out of `decoded`, which then holds the float tensors only), checked
 * against the model it will index: source rows and sorted target rows within the head.
 */
function readItemPairSupport(decoded: DecodedSafetensors, expected: boolean, source: string): ItemPairSupport | null {
  const indptr = decoded.tensors.get(ITEM_PAIRS_INDPTR);
  const targets = decoded.tensors.get(ITEM_PAIRS_TARGETS);
  decoded.tensors.delete(ITEM_PAIRS_INDPTR);
  decoded.tensors.delete(ITEM_PAIRS_TARGETS);
  if (!expected) {
    if (indptr || targets) throw new ModelError(`${source}: holds an item-pair table its task card does not describe`);
    return null;
  }
  if (indptr?.dtype !== 'I32' || targets?.dtype !== 'I32') {
    throw new ModelError(`${source}: the task card describes an item-pair table but ${ITEM_PAIRS_INDPTR} / ${ITEM_PAIRS_TARGETS} (int32) are missing`);
  }
  const ip = indptr.data;
  if (ip[0] !== 0 || ip[ip.length - 1] !== targets.data.length || ip.some((v, i) => i > 0 && v < ip[i - 1]!)) {
    throw new ModelError(`${source}: ${ITEM_PAIRS_INDPTR} is not a valid offset table for ${targets.data.length} pairs`);
  }
  return { indptr: ip, targets: targets.data };
}

type HeadCard = Exclude<ParsedCard, { type: 'next-item' }>;
type NextItemCard = Extract<ParsedCard, { type: 'next-item' }>;

/** A task ready to run: its own view of the base network (patched) and its head. */
export interface TaskModel {
  card: HeadCard;
  dir: string;
  model: UserEncoder;
  head: TaskHead;
}

/**
 * A next-item task on a new platform: no head — its network is the base read over the task's own catalogue
 * (patched), scoring those items through its tied softmax plus the prior its evaluation chose.
 */
export interface NextItemTask {
  card: NextItemCard;
  dir: string;
  model: UserEncoder;
  head: null;
  /** Raw id → row of the softmax (1-based), and the prior added to the scores (null: none). */
  itemIndex: ReadonlyMap<string, number>;
  prior: Float32Array | null;
}

/** Any saved task: what predict and serve load. */
export type AnyTask = TaskModel | NextItemTask;

export async function readTaskCard(patchDir: string): Promise<ParsedCard> {
  const cardPath = join(patchDir, 'task.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(cardPath, 'utf8'));
  } catch (err) {
    throw new ModelError(`${cardPath}: not a readable task card (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if ((raw as { format?: unknown } | null)?.format !== PATCH_FORMAT) {
    throw new ModelError(`${cardPath}: not a graftrec patch (format ${String((raw as { format?: unknown } | null)?.format)})`);
  }
  const parsed = taskCardSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ModelError(`${cardPath}: invalid task card: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Loads a saved task onto a loaded base model without modifying it: checks the base fingerprint, gives the task a
 * copy of the base network sharing every tensor the patch does not replace, grafts the patches the card
 * describes and loads the trained tensors into them and into a new head. A continual model's task (strategy
 * conure) also takes the values its masks leave of the shared weight matrices (`continualWeights`, by name).
 */
export async function loadPatchDir(patchDir: string, base: LoadedModel, fingerprint: string,
  continualWeights: ReadonlyMap<string, Float32Array> | null = null): Promise<TaskModel> {
  const task = await loadTaskDir(patchDir, base, fingerprint, continualWeights);
  if (task.head === null) throw new ModelError(`${patchDir}: a next-item task has no head (it scores its own catalogue through the base's softmax); this needs a classify or recommend task`);
  return task;
}

/** loadPatchDir for any task: a next-item task loads with its catalogue (see NextItemTask). */
export async function loadTaskDir(patchDir: string, base: LoadedModel, fingerprint: string,
  continualWeights: ReadonlyMap<string, Float32Array> | null = null): Promise<AnyTask> {
  const card = await readTaskCard(patchDir);
  if ((card.strategy === 'conure') !== (continualWeights !== null)) {
    throw new ModelError(card.strategy === 'conure'
      ? `${patchDir}: a task of a continual model, which computes with that model's shared weights; load the continual model (serve --continual) instead`
      : `internal: shared weights given for a ${card.strategy} patch`);
  }
  if (card.backbone !== base.model.backbone) {
    throw new ModelError(`${patchDir}: this patch is for a ${card.backbone} model, but the base model is ${base.model.backbone}; refusing to load it`);
  }
  if (card.baseFingerprint !== fingerprint) {
    throw new ModelError(`${patchDir}: this patch was trained on another base model (fingerprints differ); refusing to load it`);
  }
  // A next-item task's network is the base read over the task's catalogue (as finetune built it), patched there.
  const catalogue = card.type === 'next-item' ? await readCatalogue(patchDir, card.targetItems.length) : null;
  const network = catalogue ? forItemCatalogue(base.model, catalogue.tokens.offsets.length - 2, catalogue.tokens) : base.model;
  const weightsPath = join(patchDir, 'patch.safetensors');
  const decoded = await readSafetensors(weightsPath);
  const itemPairs = readItemPairSupport(decoded, card.type === 'recommend' && card.itemPairs, weightsPath);
  const tensors = floatTensors(decoded, weightsPath);
  const checkShape = (name: string, shape: readonly number[], expected: readonly number[]) => {
    if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
      throw new ModelError(`${weightsPath}: tensor ${name} has shape [${shape.join(', ')}], expected [${expected.join(', ')}]`);
    }
  };

  // Backbone tensors the task trained replace the base's in the task's copy only.
  const backbone = network.parameterMap();
  const replaced = new Map<string, Float32Array>(continualWeights ?? []);
  for (const [name, t] of tensors) {
    const p = backbone.get(name);
    if (!p) continue;
    checkShape(name, t.shape, p.shape);
    replaced.set(name, Float32Array.from(t.data));
  }
  const model = network.copySharing(replaced);

  const own = new Map<string, Parameter>();
  if (card.insertion !== null) {
    const patches = graftPatches(model, card.insertion, new Rng(0), { bottleneck: card.patchDim ?? undefined });
    for (const p of patches.flatMap((q) => q.parameters())) own.set(p.name, p);
  }
  const head = card.type === 'next-item' ? null : taskHead(headRows(card), model.config.dim, new Rng(0), {
    reading: { pooling: card.pooling, windows: card.windows, itemBag: card.itemBag }, inputRows: inputRows(model.config),
    itemPairs: itemPairs && { support: itemPairs },
  });
  for (const p of head?.parameters() ?? []) own.set(p.name, p);
  for (const [name, p] of own) {
    const t = tensors.get(name);
    if (!t) throw new ModelError(`${weightsPath}: missing tensor ${name}, which the task card's ${name.startsWith('head.') ? 'head' : 'patches'} need`);
    checkShape(name, t.shape, p.shape);
    p.data.set(t.data);
  }
  noteParameterWrite();
  for (const name of tensors.keys()) {
    if (!own.has(name) && !backbone.has(name)) throw new ModelError(`${weightsPath}: tensor ${name} has no place in the model this card describes`);
  }
  if (card.type === 'next-item') {
    return { card, dir: patchDir, model, head: null, itemIndex: new Map(card.targetItems.map((raw, i) => [raw, i + 1])), prior: catalogue!.prior };
  }
  return { card, dir: patchDir, model, head: head! };
}
