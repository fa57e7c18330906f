/**
 * Which task owns which weight (Conure). One network's block weight matrices are shared by all tasks: an entry is
 * either free (owner 0) or owned by task t (1 = the pretraining task, 2, 3, … in the order they were learned).
 * Task t computes with the entries of tasks 1..t and zeros elsewhere, so learning task t + 1 — which only ever
 * changes free entries — cannot change what task t computes.
 *
 * Each task's share is stored as a bit-packed mask (one bit per entry, owner == t).
 */
import { UserEncoder } from '../models/encoder.js';
import { Parameter, noteParameterWrite } from '../tensor/index.js';

/** Owner per entry of each prunable parameter, by parameter name. */
export type Owners = Map<string, Uint8Array>;

/** Tasks in one network: owner ids are bytes, and 0 means free. */
export const MAX_TASKS = 255;

/**
 * The parameters tasks share by entries: every weight matrix (≥ 2 dimensions) inside the backbone's blocks. The
 * item encoder, position rows and output table stay as the pretraining task left them; LayerNorms and biases are
 * each task's own (taskOwnParameters).
 */
export function prunableParameters(model: UserEncoder): Parameter[] {
  return model.blocks.flatMap((b) => b.parameters()).filter((p) => p.shape.length >= 2);
}

/** The small per-task tensors: every 1-dimensional backbone parameter outside the item encoder (LayerNorms, biases). */
export function taskOwnParameters(model: UserEncoder): Parameter[] {
  const items = new Set(model.items.parameters());
  return model.backboneParameters().filter((p) => p.shape.length === 1 && !items.has(p));
}

/**
 * Among the entries of `values` with owner 0, the round(keep × count) of largest magnitude, as a 0/1 mask over
 * all entries. Ties in magnitude go to the lower index, so the choice is deterministic.
 */
export function largestFree(values: Float32Array, owners: Uint8Array, keep: number): Uint8Array {
  const free: number[] = [];
  for (let i = 0; i < owners.length; i++) if (owners[i] === 0) free.push(i);
  const count = Math.round(keep * free.length);
  free.sort((a, b) => Math.abs(values[b]!) - Math.abs(values[a]!) || a - b);
  const chosen = new Uint8Array(owners.length);
  for (let j = 0; j < count; j++) chosen[free[j]!] = 1;
  return chosen;
}

/** Number of entries over all prunable parameters that task `task` owns (0: the free ones). */
export function ownedBy(owners: Owners, task: number): number {
  let n = 0;
  for (const o of owners.values()) for (let i = 0; i < o.length; i++) if (o[i] === task) n++;
  return n;
}

/** The values of task `task`'s network: entries owned by tasks 1..task kept, the rest zero. */
export function valuesForTask(values: Float32Array, owners: Uint8Array, task: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const o = owners[i]!;
    if (o !== 0 && o <= task) out[i] = values[i]!;
  }
  return out;
}

/** One bit per entry (owner == task), least significant bit first within each byte. */
export function packTaskMask(owners: Uint8Array, task: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(owners.length / 8));
  for (let i = 0; i < owners.length; i++) if (owners[i] === task) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

/**
 * Writes `task` into `owners` wherever the packed mask has a bit. Returns false when the mask claims an entry
 * another task already owns, or has bits past the end (a corrupt or mismatched mask).
 */
export function unpackTaskMask(bits: Uint8Array, owners: Uint8Array, task: number): boolean {
  if (bits.length !== Math.ceil(owners.length / 8)) return false;
  for (let i = 0; i < bits.length * 8; i++) {
    if (!(bits[i >> 3]! & (1 << (i & 7)))) continue;
    if (i >= owners.length || owners[i] !== 0) return false;
    owners[i] = task;
  }
  return true;
}

/**
 * Keeps parameters' entries fixed through training: after each optimizer step, every entry whose flag in
 * `movable` is 0 gets its pinned value back (the value it had when pinned, or 0 for a pruned entry).
 */
export class EntryPins {
  private readonly pins: { p: Parameter; movable: Uint8Array; values: Float32Array }[] = [];

  /** Pins p's entries not flagged in `movable` at their current values. */
  add(p: Parameter, movable: Uint8Array): void {
    this.pins.push({ p, movable, values: Float32Array.from(p.data) });
  }

  restore(): void {
    for (const { p, movable, values } of this.pins) {
      const d = p.data;
      for (let i = 0; i < d.length; i++) if (!movable[i]) d[i] = values[i]!;
    }
    noteParameterWrite();
  }
}
