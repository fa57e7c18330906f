/**
 * Where patches are grafted into each block. NextItNet (PeterRec, Figure 3), with F the block's residual branch:
 *
 *   serial-each-conv       x ─conv1─[patch]─LN─ReLU─conv2─[patch]─LN─ReLU─(+x)     the paper's best (default)
 *   serial-second-conv     x ─conv1─LN─ReLU─conv2─[patch]─LN─ReLU─(+x)             one patch per block
 *   parallel-each-conv     conv(h) + Δ(h) before each LayerNorm: the patch sees the conv's input, beside the conv
 *   residual-mixed         out = x + F(x) + Δ(F(x)): the patch's own skip is merged into the block's residual sum,
 *                          the variant the paper reports as clearly worse (kept so experiments can show why)
 *
 * SASRec and BERT4Rec (transformer layers, pre-LN):
 *
 *   serial-each-sublayer   h + [patch](Attention(LN(h))), then the same after the feed-forward network: Houlsby
 *                          adapters, each after a sublayer's output and before its residual add (default)
 *   parallel-each-sublayer h + Attention(LN(h)) + Δ(LN(h)): the patch beside each sublayer, reading its input
 *
 * A text item encoder (item-encoder.ts) takes two more: `patch.item_text`, a bottleneck between its projection and
 * its LayerNorm, and `patch.item_tokens`, a zero-initialised correction per (folded) token added to the bags —
 * the item side of AdapterRec, so a new platform's items can be read differently with the token table frozen.
 *
 * GRU4Rec has none: its layers are recurrences with no sublayer output to graft into, so the patched strategies
 * (peterrec, peter-zero) are refused for it.
 */
import { Backbone } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { BlockPatchHooks, UserEncoder } from '../models/encoder.js';
import { Rng, add } from '../tensor/index.js';
import { Module } from '../nn/module.js';
import { ModelPatch, PatchOptions, TokenTablePatch, tokenPatchRows } from './patch.js';

export const PATCH_INSERTIONS = ['serial-each-conv', 'serial-second-conv', 'parallel-each-conv', 'residual-mixed',
  'serial-each-sublayer', 'parallel-each-sublayer'] as const;
export type PatchInsertion = (typeof PATCH_INSERTIONS)[number];

/** The insertions each backbone's blocks take; the first is its default. */
export const BACKBONE_INSERTIONS: Record<Backbone, readonly PatchInsertion[]> = {
  nextitnet: ['serial-each-conv', 'serial-second-conv', 'parallel-each-conv', 'residual-mixed'],
  sasrec: ['serial-each-sublayer', 'parallel-each-sublayer'],
  bert4rec: ['serial-each-sublayer', 'parallel-each-sublayer'],
  gru4rec: [],
};

/** The backbone's default insertion; null for a backbone that takes no patches. */
export function defaultInsertion(backbone: Backbone): PatchInsertion | null {
  return BACKBONE_INSERTIONS[backbone][0] ?? null;
}

/** Throws a clear error when `insertion` does not fit the backbone's blocks (or the backbone takes no patches). */
export function checkInsertion(insertion: PatchInsertion | null, backbone: Backbone): asserts insertion is PatchInsertion {
  if (BACKBONE_INSERTIONS[backbone].length === 0) {
    throw new ModelError(`a ${backbone} model has no insertion points for patches: the patched strategies (peterrec, peter-zero) need nextitnet, sasrec or bert4rec; use fine-cls, fine-all or fine-last1`);
  }
  if (insertion === null || !BACKBONE_INSERTIONS[backbone].includes(insertion)) {
    throw new ModelError(`insertion ${insertion} does not apply to a ${backbone} model (choose from ${BACKBONE_INSERTIONS[backbone].join(', ')})`);
  }
}

/** Patch modules per block, by position: after sublayer 0 / 1, or in the residual sum. */
export interface BlockPatches {
  sublayer0?: ModelPatch;
  sublayer1?: ModelPatch;
  residual?: ModelPatch;
}

function hooksFor(insertion: PatchInsertion, p: BlockPatches): BlockPatchHooks {
  const at = (i: 0 | 1) => (i === 0 ? p.sublayer0 : p.sublayer1);
  switch (insertion) {
    case 'serial-each-conv':
    case 'serial-second-conv':
    case 'serial-each-sublayer':
      return { afterSublayer: (i, out) => at(i)?.forward(out) ?? out };
    case 'parallel-each-conv':
    case 'parallel-each-sublayer':
      return { afterSublayer: (i, out, input) => at(i)!.addDelta(out, input) };
    case 'residual-mixed':
      return { residual: (x, branch) => p.residual!.addDelta(add(x, branch), branch) };
  }
}

function patchesFor(insertion: PatchInsertion, block: number, names: readonly [string, string], dim: number, rng: Rng,
  options: PatchOptions): BlockPatches {
  const make = (where: string) => new ModelPatch(`patch.${block}.${where}`, dim, rng, options);
  switch (insertion) {
    case 'serial-each-conv':
    case 'parallel-each-conv':
    case 'serial-each-sublayer':
    case 'parallel-each-sublayer':
      return { sublayer0: make(names[0]), sublayer1: make(names[1]) };
    case 'serial-second-conv':
      return { sublayer1: make(names[1]) };
    case 'residual-mixed':
      return { residual: make('residual') };
  }
}

/**
 * Grafts freshly initialised patches into every block of `model` (replacing any earlier ones) and returns them.
 * The backbone's own parameters are untouched; the patches' parameters are named `patch.<block>.<where>.…`, where
 * is the sublayer (conv1, conv2, attention, feedforward) or residual.
 */
export function graftPatches(model: UserEncoder, insertion: PatchInsertion | null, rng: Rng, options: PatchOptions = {}): Module[] {
  checkInsertion(insertion, model.backbone);
  const all: Module[] = [];
  model.blocks.forEach((block, i) => {
    const patches = patchesFor(insertion, i, model.sublayerNames, model.config.dim, rng, options);
    block.patches = hooksFor(insertion, patches);
    all.push(...Object.values(patches).filter((p): p is ModelPatch => p !== undefined));
  });
  if (model.items.text) {
    const projected = new ModelPatch('patch.item_text', model.config.dim, rng, options);
    const tokens = new TokenTablePatch('patch.item_tokens', tokenPatchRows(model.config.textBuckets!), model.config.dim);
    model.items.setTextPatch({ projected: (x) => projected.forward(x), tokenBag: (ids, w, o) => tokens.bag(ids, w, o) });
    all.push(projected, tokens);
  }
  return all;
}

/** Removes every patch hook, restoring the plain backbone. */
export function removePatches(model: UserEncoder): void {
  for (const block of model.blocks) block.patches = null;
  if (model.items.text) model.items.setTextPatch(null);
}
