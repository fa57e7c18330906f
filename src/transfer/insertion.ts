/**
 * Where patches are grafted into each residual block (PeterRec, Figure 3). With F the block's residual branch:
 *
 *   serial-each-conv     x ─conv1─[patch]─LN─ReLU─conv2─[patch]─LN─ReLU─(+x)     the paper's best (default)
 *   serial-second-conv   x ─conv1─LN─ReLU─conv2─[patch]─LN─ReLU─(+x)             one patch per block
 *   parallel-each-conv   conv(h) + Δ(h) before each LayerNorm: the patch sees the conv's input, beside the conv
 *   residual-mixed       out = x + F(x) + Δ(F(x)): the patch's own skip is merged into the block's residual sum,
 *                        the variant the paper reports as clearly worse (kept so experiments can show why)
 */
import { BlockPatchHooks, NextItNet } from '../models/nextitnet.js';
import { Rng, add } from '../tensor/index.js';
import { ModelPatch, PatchOptions } from './patch.js';

export const PATCH_INSERTIONS = ['serial-each-conv', 'serial-second-conv', 'parallel-each-conv', 'residual-mixed'] as const;
export type PatchInsertion = (typeof PATCH_INSERTIONS)[number];

/** Patch modules per block, by position: conv1 / conv2 / residual. */
export interface BlockPatches {
  conv1?: ModelPatch;
  conv2?: ModelPatch;
  residual?: ModelPatch;
}

function hooksFor(insertion: PatchInsertion, p: BlockPatches): BlockPatchHooks {
  switch (insertion) {
    case 'serial-each-conv':
      return { afterConv1: (out) => p.conv1!.forward(out), afterConv2: (out) => p.conv2!.forward(out) };
    case 'serial-second-conv':
      return { afterConv2: (out) => p.conv2!.forward(out) };
    case 'parallel-each-conv':
      return { afterConv1: (out, input) => p.conv1!.addDelta(out, input), afterConv2: (out, input) => p.conv2!.addDelta(out, input) };
    case 'residual-mixed':
      return { residual: (x, branch) => p.residual!.addDelta(add(x, branch), branch) };
  }
}

function patchesFor(insertion: PatchInsertion, block: number, dim: number, rng: Rng, options: PatchOptions): BlockPatches {
  const make = (where: string) => new ModelPatch(`patch.${block}.${where}`, dim, rng, options);
  switch (insertion) {
    case 'serial-each-conv':
    case 'parallel-each-conv':
      return { conv1: make('conv1'), conv2: make('conv2') };
    case 'serial-second-conv':
      return { conv2: make('conv2') };
    case 'residual-mixed':
      return { residual: make('residual') };
  }
}

/**
 * Grafts freshly initialised patches into every block of `model` (replacing any earlier ones) and returns them.
 * The backbone's own parameters are untouched; the patches' parameters are named `patch.<block>.<where>.…`.
 */
export function graftPatches(model: NextItNet, insertion: PatchInsertion, rng: Rng, options: PatchOptions = {}): ModelPatch[] {
  const all: ModelPatch[] = [];
  model.blocks.forEach((block, i) => {
    const patches = patchesFor(insertion, i, model.config.dim, rng, options);
    block.patches = hooksFor(insertion, patches);
    all.push(...Object.values(patches).filter((p): p is ModelPatch => p !== undefined));
  });
  return all;
}

/** Removes every patch hook, restoring the plain backbone. */
export function removePatches(model: NextItNet): void {
  for (const block of model.blocks) block.patches = null;
}
