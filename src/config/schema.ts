/**
 * Every default in one place. Precedence, everywhere: command-line flag > config file / API option > these defaults.
 * The CLI builds its option defaults from these schemas, so `--help` and the code cannot disagree.
 */
import { z } from 'zod';

/** The sequence networks a model can be built on (models/encoders.ts makes each). */
export const BACKBONES = ['nextitnet', 'sasrec', 'bert4rec', 'gru4rec'] as const;
export type Backbone = (typeof BACKBONES)[number];

/**
 * Where a model's item vectors come from (models/item-encoder.ts): an id table, the item's text (hashed tokens →
 * mean → Linear → LayerNorm; no per-item parameter, so items never seen in training are scorable), or their sum.
 */
export const ITEM_ENCODERS = ['id', 'text', 'id+text', 'features'] as const;
export type ItemEncoderKind = (typeof ITEM_ENCODERS)[number];

/**
 * The embedding size when none is given: NextItNet's as in the PeterRec code, SASRec's as published for Amazon
 * Games (Kang & McAuley 2018), BERT4Rec's as published (Sun et al. 2019), GRU4Rec's as RecBole's.
 */
export const DEFAULT_DIM: Record<Backbone, number> = { nextitnet: 64, sasrec: 50, bert4rec: 64, gru4rec: 64 };
/**
 * Layers, attention heads and dropout when none are given: SASRec's published Games values; BERT4Rec's published
 * values (2 layers, 2 heads, dropout 0.1); GRU4Rec's as RecBole's (one GRU layer, embedding dropout 0.25).
 * NextItNet reads none of them.
 */
export const DEFAULT_LAYERS: Record<Backbone, number> = { nextitnet: 2, sasrec: 2, bert4rec: 2, gru4rec: 1 };
export const DEFAULT_HEADS: Record<Backbone, number> = { nextitnet: 1, sasrec: 1, bert4rec: 2, gru4rec: 1 };
export const DEFAULT_DROPOUT: Record<Backbone, number> = { nextitnet: 0.5, sasrec: 0.5, bert4rec: 0.1, gru4rec: 0.25 };
/**
 * The sequence objective each backbone trains when none is given, and the ones it can train at all: BERT4Rec is
 * bidirectional, so only masked items (the cloze task) make sense for it; SASRec and GRU4Rec are causal.
 */
export const DEFAULT_OBJECTIVE: Record<Backbone, 'causal' | 'masked'> = { nextitnet: 'causal', sasrec: 'causal', bert4rec: 'masked', gru4rec: 'causal' };
const BACKBONE_OBJECTIVES: Record<Backbone, readonly ('causal' | 'masked')[]> = {
  nextitnet: ['causal', 'masked'], sasrec: ['causal'], bert4rec: ['masked'], gru4rec: ['causal'],
};

/** Why the backbone cannot train this sequence objective, or null when it can. */
export function objectiveProblem(backbone: Backbone, objective: 'causal' | 'masked'): string | null {
  if (BACKBONE_OBJECTIVES[backbone].includes(objective)) return null;
  return objective === 'masked'
    ? `the masked objective needs the nextitnet or bert4rec backbone (${backbone} is causal)`
    : `the causal objective does not fit ${backbone}, a bidirectional model: it trains on masked items only (objective masked, its default)`;
}

const ModelFields = z.object({
  backbone: z.enum(BACKBONES).default('nextitnet'),
  /**
   * causal: predict the next item at every position. masked: predict masked items (NextItNet: centred convolutions;
   * BERT4Rec: bidirectional attention). Absent = DEFAULT_OBJECTIVE of the backbone.
   */
  objective: z.enum(['causal', 'masked']).optional(),
  /** Real items; tables have numItems + 1 rows (row 0 is padding), + 1 more for the mask token when masked. */
  numItems: z.number().int().positive(),
  /** Absent = DEFAULT_DIM of the backbone. */
  dim: z.number().int().positive().optional(),
  /** NextItNet: residual blocks. */
  blocks: z.number().int().positive().default(8),
  kernelSize: z.number().int().positive().default(3),
  /** Block dilations cycle through this list; each block's second conv uses twice the dilation. */
  dilations: z.array(z.number().int().positive()).nonempty().default([1, 4]),
  /**
   * SASRec, BERT4Rec: transformer layers, attention heads (must divide dim), dropout rate. GRU4Rec: GRU layers,
   * embedding dropout. Absent layers / heads / dropout = DEFAULT_LAYERS / DEFAULT_HEADS / DEFAULT_DROPOUT of the backbone.
   */
  layers: z.number().int().positive().optional(),
  heads: z.number().int().positive().optional(),
  dropout: z.number().min(0).lt(1, 'dropout must be in [0, 1)').optional(),
  maxLen: z.number().int().min(2).max(4096).default(50),
  layerNormEps: z.number().positive().default(1e-8),
  itemEncoder: z.enum(ITEM_ENCODERS).default('id'),
  /** Text item encoders: hash buckets of the dataset's tokenizer (its token table has one more row, the mask token). */
  textBuckets: z.number().int().positive().optional(),
  /**
   * Text item encoders: the scale each dimension of a text vector starts at (its LayerNorm's initial gain). 1 by
   * default; the id rows start at 0.02, so with id+text a smaller start lets the id rows count from the first step.
   */
  textInitScale: z.number().positive().default(1),
  /** The features item encoder: length of the dataset's item vectors, and the adaptor's experts (UniSRec's MoE). */
  featureDim: z.number().int().positive().optional(),
  featureExperts: z.number().int().positive().default(8),
  /** Masked objective: probability that a (non-padding) position is chosen for prediction. */
  maskProbability: z.number().gt(0).lt(1).default(0.3),
});

type ModelFieldsOut = z.infer<typeof ModelFields>;
type BackboneFilled = 'objective' | 'dim' | 'layers' | 'heads' | 'dropout';
type Resolved<T> = Omit<T, BackboneFilled>
  & { objective: 'causal' | 'masked'; dim: number; layers: number; heads: number; dropout: number };

/** Fills the backbone's objective, dimension, layers, heads and dropout; checks what only holds for some backbones. */
function resolveModel<T extends Omit<ModelFieldsOut, 'numItems'>>(c: T, ctx?: z.RefinementCtx): Resolved<T> {
  const objective = c.objective ?? DEFAULT_OBJECTIVE[c.backbone];
  const dim = c.dim ?? DEFAULT_DIM[c.backbone];
  const layers = c.layers ?? DEFAULT_LAYERS[c.backbone];
  const heads = c.heads ?? DEFAULT_HEADS[c.backbone];
  const dropout = c.dropout ?? DEFAULT_DROPOUT[c.backbone];
  const attends = c.backbone === 'sasrec' || c.backbone === 'bert4rec';
  const problem = objectiveProblem(c.backbone, objective)
    ?? (attends && dim % heads !== 0 ? `${heads} attention heads do not divide dim ${dim}` : null)
    ?? (usesText(c.itemEncoder) && c.textBuckets === undefined ? `the ${c.itemEncoder} item encoder needs textBuckets (the dataset's tokenizer)` : null)
    ?? (c.itemEncoder === 'features' && c.featureDim === undefined ? 'the features item encoder needs featureDim (the length of the dataset\'s item vectors)' : null)
    ?? (c.itemEncoder === 'features' && objective === 'masked' ? 'the features item encoder has no mask-token vector; use a causal objective (or the text encoder)' : null);
  if (problem) {
    if (!ctx) throw new Error(problem);
    ctx.addIssue({ code: 'custom', message: problem });
  }
  return { ...c, objective, dim, layers, heads, dropout };
}

/** Whether an item encoder reads hashed text tokens. */
export function usesText(kind: ItemEncoderKind): boolean {
  return kind === 'text' || kind === 'id+text';
}

export const ModelConfigSchema = ModelFields.transform((c, ctx) => resolveModel(c, ctx));
/** Model hyperparameters as given (CLI, files, API): numItems comes from the dataset, dim may be left to the backbone. */
export type ModelOptions = Omit<z.input<typeof ModelFields>, 'numItems'>;
export type ModelConfig = z.infer<typeof ModelConfigSchema>;

/**
 * Pretraining objectives: a sequence objective (next item, or masked items), a sequence-level contrastive one
 * (CLUE: two augmented views of each user, InfoNCE with in-batch negatives), or their weighted sum. The network
 * follows the sequence objective (causal or centred convolutions); contrastive alone trains the causal network.
 */
export const OBJECTIVES = ['causal', 'masked', 'contrastive', 'causal+contrastive', 'masked+contrastive'] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** The contrastive loss term: its weight in a joint objective, InfoNCE temperature, projection head, view augmentation. */
export const ContrastiveConfigSchema = z.object({
  /** λ: the term's weight next to the sequence loss (weight 1); contrastive alone uses weight 1. */
  weight: z.number().min(0).default(0.1),
  /** τ: similarities are divided by it before the softmax over the batch's views. */
  temperature: z.number().positive().default(0.5),
  /** Output size of the projection head (Linear–ReLU–Linear) between the pooled user vector and the loss. */
  projectionDim: z.number().int().positive().default(64),
  /** Crop: a view keeps a random contiguous share η of the sequence (1 = never crop). */
  crop: z.number().gt(0).max(1).default(0.6),
  /** Item mask: a view drops this share γ of the items (0 = never mask). */
  maskRate: z.number().min(0).lt(1).default(0.3),
  /** Local reorder: a view shuffles a random contiguous share β of the sequence (0 = never reorder). */
  reorder: z.number().min(0).max(1).default(0.3),
});
export type ContrastiveConfig = z.infer<typeof ContrastiveConfigSchema>;

/**
 * The held-out items loss term (train/held-out.ts): a share of each window's items is held out and predicted from
 * the mean-pooled user vector of the rest, through the model's output layer. Added to any objective that trains
 * the output layer; weight 0 = off.
 */
export const HeldOutConfigSchema = z.object({
  /** The term's weight next to the sequence loss (weight 1); 0 = off. */
  weight: z.number().min(0).default(0),
  /** ρ: the share of each window's items held out (at least one item is held out and one kept). */
  rate: z.number().gt(0).lt(1).default(0.5),
});
export type HeldOutConfig = z.infer<typeof HeldOutConfigSchema>;

export const SEQUENCE_LOSSES = ['softmax', 'bce'] as const;
export type SequenceLoss = (typeof SEQUENCE_LOSSES)[number];

export const TrainConfigSchema = z.object({
  /** The loss terms trained; null = the model's own sequence objective alone (model.objective). */
  objective: z.enum(OBJECTIVES).nullable().default(null),
  contrastive: ContrastiveConfigSchema.prefault({}),
  heldOut: HeldOutConfigSchema.prefault({}),
  epochs: z.number().int().positive().default(20),
  /** Windows per batch (unless batchTokens is set). */
  batch: z.number().int().positive().default(128),
  /** Padded positions per batch (windows × the batch's longest window) instead of a fixed number of windows; 0 = off. */
  batchTokens: z.number().int().min(0).default(0),
  /**
   * Batches of windows of similar length (each padded to its own longest), in shuffled order; off = random batches
   * (each still padded to its own longest). Off by default: on the sport log of the sport → cloth pair (max-len
   * 20, full softmax, seeds 1 and 2) bucketed batches stopped at validation NDCG@10 0.0179 / 0.0169 against
   * 0.0235 / 0.0212 for random batches — a batch of same-length users is a biased sample of users. Buckets leave
   * almost no padding on short-sequence logs, so they remain an option where speed matters more.
   */
  lengthBuckets: z.boolean().default(false),
  lr: z.number().positive().default(1e-3),
  /**
   * The sequence loss. 'softmax': cross-entropy over all items (negatives 0) or over sampled ones. 'bce': binary
   * cross-entropy of each target against one item drawn uniformly per position from those its window does not
   * hold — SASRec's loss, which trains for the sampled-negative evaluation of its paper.
   */
  loss: z.enum(SEQUENCE_LOSSES).default('softmax'),
  /** 0 = full softmax over all items (chunked); N > 0 = sampled softmax with N shared negatives, logQ corrected. */
  negatives: z.number().int().min(0).default(0),
  seed: z.number().int().default(1),
  /** Epochs without a better validation NDCG@10 before stopping. */
  patience: z.number().int().positive().default(3),
  /** Global gradient-norm clip; 0 disables. */
  clipNorm: z.number().min(0).default(0),
  weightDecay: z.number().min(0).default(0),
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

export const MODEL_DEFAULTS = resolveModel(ModelFields.omit({ numItems: true }).parse({}));
export const TRAIN_DEFAULTS = TrainConfigSchema.parse({});

/** How a transfer task reads a user out of the network. */
export const POOLINGS = ['last', 'mean', 'max', 'attention'] as const;

/**
 * Fine-tuning defaults for transfer tasks (finetune, experiment transfer, the library API). Small labelled sets
 * overfit quickly, so the defaults regularise (user-vector dropout, weight decay, a warm-up then decaying learning
 * rate) and stop on validation log-loss. The learning rate depends on the strategy (see transfer/strategies.ts)
 * unless given. The defaults were chosen on the validation users of a real movie log with user demographics
 * (ml-100k gender, 3 seeds): reading the whole history with mean pooling, plus the item bag, had the lowest
 * validation log-loss.
 */
export const TransferConfigSchema = z.object({
  pooling: z.enum(POOLINGS).default('mean'),
  /** maxLen-item windows read from the end of each history; 0 = the whole history. */
  windows: z.number().int().min(0).default(0),
  /**
   * Add a learned per-item vector, averaged over the whole history, to the user vector (see transfer/head.ts).
   * On ml-100k gender it lowered the validation log-loss of every strategy (peterrec 0.611 → 0.468, fine-cls
   * 0.622 → 0.486, fine-all 0.550 → 0.513; seeds 1–3).
   */
  itemBag: z.boolean().default(true),
  /**
   * Cross-domain tasks: add a learned item-to-item table over the training users' source → target item pairs to
   * the target scores (see transfer/item-pairs.ts).
   */
  itemPairs: z.boolean().default(true),
  epochs: z.number().int().positive().default(40),
  batch: z.number().int().positive().default(64),
  lr: z.number().positive().nullable().default(null),
  weightDecay: z.number().min(0).default(0.01),
  dropout: z.number().min(0).lt(1).default(0.3),
  warmup: z.number().min(0).lt(1).default(0),
  patience: z.number().int().positive().default(5),
  testFraction: z.number().gt(0).max(0.9).default(0.2),
  labelFraction: z.number().gt(0).max(1).default(1),
});
export type TransferConfig = z.infer<typeof TransferConfigSchema>;
export const TRANSFER_DEFAULTS = TransferConfigSchema.parse({});
