/**
 * Fine-tuning strategies: which parameters train. Everything else is frozen (requiresGrad = false), which costs
 * no gradient computation at all in the kernels.
 *
 *   peterrec    pretrained backbone frozen; patches + the backbone's patched LayerNorms (NextItNet: each block's
 *               second; SASRec: all; a text item encoder's LayerNorm after its patch; a features encoder's
 *               adaptor) + the new head train
 *   fine-all    the whole pretrained network + head (no patches)
 *   fine-cls    the head only
 *   fine-last1  the last block (residual block, transformer layer) + head;  fine-last2: the last two + head
 *   peter-zero  the patched network from random initialisation, everything trained (what pretraining buys)
 *   zero-shot   nothing trains: only for next-item transfer to a new platform (next-item.ts), which scores through
 *               the network's own softmax; a task with a new head has to train it
 */
import { UserEncoder } from '../models/encoder.js';
import { Parameter } from '../tensor/index.js';
import { Module } from '../nn/module.js';

export const STRATEGIES = ['peterrec', 'fine-all', 'fine-cls', 'fine-last1', 'fine-last2', 'peter-zero', 'zero-shot'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Whether a strategy grafts patches, and whether it starts from the pretrained weights. */
export function strategyUsesPatches(strategy: Strategy): boolean {
  return strategy === 'peterrec' || strategy === 'peter-zero';
}

export function strategyUsesPretraining(strategy: Strategy): boolean {
  return strategy !== 'peter-zero';
}

/** The backbone parameters a strategy trains (the softmax output table of pretraining is never used). */
function backboneTrainable(strategy: Strategy, model: UserEncoder): Parameter[] {
  const blocks = model.blocks;
  switch (strategy) {
    case 'peterrec':
      return [...model.patchedNormParameters(), ...model.items.patchedParameters()];
    case 'fine-all':
    case 'peter-zero':
      return model.backboneParameters();
    case 'fine-cls':
    case 'zero-shot':
      return [];
    case 'fine-last1':
      return blocks.slice(-1).flatMap((b) => b.parameters());
    case 'fine-last2':
      return blocks.slice(-2).flatMap((b) => b.parameters());
  }
}

/**
 * Freezes everything, then unfreezes what `strategy` trains: backbone parameters, patches (if the strategy uses
 * them) and the head. Returns the trainable parameters (what the optimizer gets).
 */
export function applyStrategy(strategy: Strategy, model: UserEncoder, patches: readonly Module[],
  head: readonly Parameter[]): Parameter[] {
  model.setTrainable(false);
  for (const p of patches) p.setTrainable(false);
  const trainable = [
    ...backboneTrainable(strategy, model),
    ...(strategyUsesPatches(strategy) ? patches.flatMap((p) => p.parameters()) : []),
    ...head,
  ];
  for (const p of trainable) p.requiresGrad = true;
  return trainable;
}

/**
 * The Adam learning rate a strategy fine-tunes with unless one is given. One entry per strategy so each can be set
 * on its own; on the real-data validation runs (README, "Transfer on real data") 1e-3 with user-vector dropout and
 * weight decay gave a lower validation log-loss for fine-all than the 1e-4 the PeterRec authors suggest, so every
 * strategy starts from 1e-3 there. Next-item transfer to a new platform trains patches through the whole softmax
 * and prefers a higher rate for them (README, "Transfer to a new platform": chosen on the validation users).
 */
export function defaultLearningRate(strategy: Strategy, taskType: 'classify' | 'recommend' | 'next-item' = 'classify'): number {
  return (taskType === 'next-item' ? NEXT_ITEM_LEARNING_RATES[strategy] : undefined) ?? LEARNING_RATES[strategy];
}

const LEARNING_RATES: Record<Strategy, number> = {
  'peterrec': 1e-3,
  'fine-all': 1e-3,
  'fine-cls': 1e-3,
  'fine-last1': 1e-3,
  'fine-last2': 1e-3,
  'peter-zero': 1e-3,
  'zero-shot': 1e-3,
};

const NEXT_ITEM_LEARNING_RATES: Partial<Record<Strategy, number>> = {
  'peterrec': 3e-3,
};
