import { Command } from 'commander';
import { BACKBONES, Backbone, DEFAULT_DIM, DEFAULT_DROPOUT, ITEM_ENCODERS, ItemEncoderKind, DEFAULT_HEADS, DEFAULT_LAYERS, DEFAULT_OBJECTIVE, MODEL_DEFAULTS, OBJECTIVES, Objective, SEQUENCE_LOSSES, SequenceLoss, TRAIN_DEFAULTS } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { backend } from '../tensor/index.js';
import { createProgress } from '../train/progress.js';
import { networkObjective } from '../train/objectives.js';
import { pretrain } from '../train/pretrain.js';
import { ConfigEntry, ConfigShape, withConfigFile } from './config-file.js';
import { withCommunicator } from './distributed.js';
import { choiceOption, integerListOption, integerOption, numberOption } from './options.js';

interface PretrainFlags {
  data: string;
  out: string;
  objective?: Objective;
  contrastiveWeight: number;
  temperature: number;
  projectionDim: number;
  crop: number;
  maskRate: number;
  reorder: number;
  heldOutWeight: number;
  heldOutRate: number;
  backbone?: Backbone;
  itemEncoder?: ItemEncoderKind;
  dim?: number;
  blocks: number;
  layers?: number;
  heads?: number;
  dropout?: number;
  kernelSize: number;
  layerNormEps: number;
  maskProbability: number;
  featureExperts: number;
  textInitScale: number;
  dilations: number[];
  maxLen: number;
  epochs: number;
  batch: number;
  batchTokens: number;
  lengthBuckets: boolean;
  lr: number;
  loss?: SequenceLoss;
  negatives: number;
  seed: number;
  patience: number;
  clipNorm: number;
  weightDecay: number;
  threads?: number;
  resume?: boolean;
  json?: boolean;
  quiet?: boolean;
  distributed?: boolean;
}

const C = TRAIN_DEFAULTS.contrastive;
const H = TRAIN_DEFAULTS.heldOut;

/**
 * The config.json a pretraining run writes into its model directory, read as a config file: `model` and `train`
 * map to the options (train.objective, the full objective, over model.objective, the network's), `dataset` to
 * --data; what the dataset decides (numItems, textBuckets, featureDim) and the run's record (format, version,
 * vocabularyHash, itemText, provenance) are not settings and are passed over. Flat keys (the options) work beside them.
 */
const MODEL_KEYS: Record<string, string | null> = {
  backbone: 'backbone', objective: 'objective', dim: 'dim', blocks: 'blocks', kernelSize: 'kernelSize', dilations: 'dilations',
  layers: 'layers', heads: 'heads', dropout: 'dropout', maxLen: 'maxLen', layerNormEps: 'layerNormEps', itemEncoder: 'itemEncoder',
  featureExperts: 'featureExperts', textInitScale: 'textInitScale', maskProbability: 'maskProbability', numItems: null, textBuckets: null, featureDim: null,
};
const TRAIN_KEYS: Record<string, string | null> = {
  objective: 'objective', epochs: 'epochs', batch: 'batch', batchTokens: 'batchTokens', lengthBuckets: 'lengthBuckets', lr: 'lr',
  loss: 'loss', negatives: 'negatives', seed: 'seed', patience: 'patience', clipNorm: 'clipNorm', weightDecay: 'weightDecay',
};
const NESTED_TRAIN_KEYS: Record<string, Record<string, string>> = {
  contrastive: { weight: 'contrastiveWeight', temperature: 'temperature', projectionDim: 'projectionDim', crop: 'crop', maskRate: 'maskRate', reorder: 'reorder' },
  heldOut: { weight: 'heldOutWeight', rate: 'heldOutRate' },
};
const RECORD_KEYS = new Set(['format', 'version', 'vocabularyHash', 'itemText', 'provenance']);

export const pretrainConfigShape: ConfigShape = (file, fail) => {
  const entries: ConfigEntry[] = [];
  const mapping = (key: string, value: unknown): Record<string, unknown> => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(key, 'must be a mapping');
    return value as Record<string, unknown>;
  };
  const section = (prefix: string, value: unknown, keys: Record<string, string | null>) => {
    for (const [key, v] of Object.entries(mapping(prefix, value))) {
      const path = `${prefix}.${key}`;
      if (prefix === 'train' && key in NESTED_TRAIN_KEYS) {
        for (const [inner, iv] of Object.entries(mapping(path, v))) {
          const attribute = NESTED_TRAIN_KEYS[key]![inner];
          if (attribute === undefined) fail(`${path}.${inner}`, `unknown key (known: ${Object.keys(NESTED_TRAIN_KEYS[key]!).join(', ')})`);
          entries.push({ key: `${path}.${inner}`, attribute: attribute!, value: iv });
        }
        continue;
      }
      if (!(key in keys)) fail(path, `unknown key (known: ${Object.keys(keys).join(', ')})`);
      const attribute = keys[key];
      // train.objective null: the model's own objective; model.objective yields to a full train.objective.
      if (attribute === null || attribute === undefined || (path === 'train.objective' && v === null)) continue;
      entries.push({ key: path, attribute, value: v });
    }
  };
  for (const [key, value] of Object.entries(file)) {
    if (RECORD_KEYS.has(key)) continue;
    if (key === 'model') section('model', value, MODEL_KEYS);
    else if (key === 'train') section('train', value, TRAIN_KEYS);
    else if (key === 'dataset') entries.push({ key, attribute: 'data', value });
    else entries.push({ key, attribute: key, value });
  }
  const trainObjective = entries.find((e) => e.key === 'train.objective');
  return trainObjective ? entries.filter((e) => e.key !== 'model.objective') : entries;
};

export function pretrainCommand(): Command {
  return withConfigFile(new Command('pretrain')
    .description('Pretrain a user model (NextItNet, SASRec, BERT4Rec or GRU4Rec) on a dataset (leave-one-out split, early stopping on validation NDCG@10)')
    .requiredOption('--data <dir>', 'dataset directory from `graftrec ingest` or `graftrec synth`; several separated by commas (a,b) train one model on their users, items merged by id')
    .requiredOption('--out <dir>', 'model directory to create (or continue with --resume)')
    .option('--objective <kind>', `causal (next item), masked (masked items: centred convolutions, bidirectional attention), contrastive (two augmented views per user, InfoNCE; causal network), causal+contrastive or masked+contrastive (default ${BACKBONES.map((b) => `${b} ${DEFAULT_OBJECTIVE[b]}`).join(', ')})`,
      choiceOption('objective', OBJECTIVES))
    .option('--contrastive-weight <λ>', 'weight of the contrastive loss next to the sequence loss (joint objectives)', numberOption('contrastive-weight', { min: 0 }), C.weight)
    .option('--temperature <τ>', 'InfoNCE temperature', numberOption('temperature', { min: 0, exclusiveMin: true }), C.temperature)
    .option('--projection-dim <n>', 'output size of the contrastive projection head (not saved with the model)', integerOption('projection-dim'), C.projectionDim)
    .option('--crop <η>', 'view augmentation: share of the sequence a crop keeps (1 = no crop)', numberOption('crop', { min: 0, max: 1, exclusiveMin: true }), C.crop)
    .option('--mask-rate <γ>', 'view augmentation: share of items an item mask drops (0 = no mask)', numberOption('mask-rate', { min: 0, max: 1, exclusiveMax: true }), C.maskRate)
    .option('--reorder <β>', 'view augmentation: share of the sequence a local reorder shuffles (0 = no reorder)', numberOption('reorder', { min: 0, max: 1 }), C.reorder)
    .option('--held-out-weight <λ>', 'weight of the held-out items loss: a share of each window is held out and predicted from the mean-pooled user vector of the rest (a user-level objective for transfer; 0 = off)',
      numberOption('held-out-weight', { min: 0 }), H.weight)
    .option('--held-out-rate <ρ>', 'share of each window held out for that loss', numberOption('held-out-rate', { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }), H.rate)
    .option('--backbone <name>', `the sequence network: ${BACKBONES.join(', ')} (default ${MODEL_DEFAULTS.backbone})`, choiceOption('backbone', BACKBONES))
    .option('--item-encoder <kind>', `where item vectors come from: id (a table row per item), text (the item's text: hashed tokens → mean → Linear → LayerNorm; needs data ingested with --item-text; scores items never seen in training), id+text (their sum), features (precomputed item vectors from --item-features through a mixture-of-experts adaptor) (default ${MODEL_DEFAULTS.itemEncoder})`, choiceOption('item-encoder', ITEM_ENCODERS))
    .option('--dim <n>', `channels = embedding size (default ${BACKBONES.map((b) => `${b} ${DEFAULT_DIM[b]}`).join(', ')})`, integerOption('dim'))
    .option('--blocks <n>', 'nextitnet: residual blocks', integerOption('blocks'), MODEL_DEFAULTS.blocks)
    .option('--layers <n>', `sasrec, bert4rec: transformer layers; gru4rec: GRU layers (default ${(['sasrec', 'bert4rec', 'gru4rec'] as const).map((b) => `${b} ${DEFAULT_LAYERS[b]}`).join(', ')})`, integerOption('layers'))
    .option('--heads <n>', `sasrec, bert4rec: attention heads, must divide --dim (default ${(['sasrec', 'bert4rec'] as const).map((b) => `${b} ${DEFAULT_HEADS[b]}`).join(', ')})`, integerOption('heads'))
    .option('--dropout <p>', `sasrec, bert4rec, gru4rec: dropout rate in [0, 1) (default ${(['sasrec', 'bert4rec', 'gru4rec'] as const).map((b) => `${b} ${DEFAULT_DROPOUT[b]}`).join(', ')})`, numberOption('dropout', { min: 0, max: 1, exclusiveMax: true }))
    .option('--kernel-size <n>', 'convolution kernel size', integerOption('kernel-size'), MODEL_DEFAULTS.kernelSize)
    .option('--layer-norm-eps <x>', 'LayerNorm epsilon', numberOption('layer-norm-eps', { min: 0, exclusiveMin: true }), MODEL_DEFAULTS.layerNormEps)
    .option('--mask-probability <p>', 'masked objective: share of the real positions chosen for prediction', numberOption('mask-probability', { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }), MODEL_DEFAULTS.maskProbability)
    .option('--text-init-scale <x>', 'text item encoders: the scale each dimension of a text vector starts at (id rows start at 0.02; measured in the README, 0.02 trains in about half the epochs, ending a little lower on validation)',
      numberOption('text-init-scale', { min: 0, exclusiveMin: true }), MODEL_DEFAULTS.textInitScale)
    .option('--feature-experts <n>', 'features item encoder: experts of the mixture-of-experts adaptor', integerOption('feature-experts'), MODEL_DEFAULTS.featureExperts)
    .option('--dilations <list>', 'block dilations, cycled', integerListOption('dilations'), MODEL_DEFAULTS.dilations)
    .option('--max-len <n>', 'sequence length the model sees', integerOption('max-len', 2), MODEL_DEFAULTS.maxLen)
    .option('--epochs <n>', 'maximum epochs', integerOption('epochs'), TRAIN_DEFAULTS.epochs)
    .option('--batch <n>', 'sequences per batch', integerOption('batch'), TRAIN_DEFAULTS.batch)
    .option('--batch-tokens <n>', 'padded positions per batch (sequences × the batch\'s longest) instead of --batch sequences; 0 = off', integerOption('batch-tokens', 0), TRAIN_DEFAULTS.batchTokens)
    .option('--length-buckets', 'batches of sequences of similar length: far less padding on short-sequence logs, lower next-item quality in our measurements (see the README)', TRAIN_DEFAULTS.lengthBuckets)
    .option('--no-length-buckets', 'random batches, each padded to its own longest sequence')
    .option('--lr <x>', 'Adam learning rate', numberOption('lr', { min: 0, exclusiveMin: true }), TRAIN_DEFAULTS.lr)
    .option('--loss <name>', `sequence loss: softmax (cross-entropy over all items, or over --negatives sampled ones) or bce (one negative per position, SASRec's loss) (default ${TRAIN_DEFAULTS.loss})`, choiceOption('loss', SEQUENCE_LOSSES))
    .option('--negatives <n>', '0 = full softmax; N = sampled softmax with N shared negatives (logQ corrected)', integerOption('negatives', 0), TRAIN_DEFAULTS.negatives)
    .option('--seed <n>', 'random seed (same seed, same machine ⇒ same numbers)', integerOption('seed', 0), TRAIN_DEFAULTS.seed)
    .option('--patience <n>', 'epochs without validation improvement before stopping', integerOption('patience'), TRAIN_DEFAULTS.patience)
    .option('--clip-norm <x>', 'global gradient-norm clip (0 = off)', numberOption('clip-norm', { min: 0 }), TRAIN_DEFAULTS.clipNorm)
    .option('--weight-decay <x>', 'AdamW decoupled weight decay', numberOption('weight-decay', { min: 0 }), TRAIN_DEFAULTS.weightDecay)
    .option('--threads <n>', 'kernel threads (default: GRAFTREC_THREADS or all cores)', integerOption('threads'))
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--json', 'print the result as one JSON object')
    .option('--quiet', 'no progress output')
    .option('--distributed', 'data-parallel training over the ranks of an MPI job (`mpirun -np N graftrec pretrain … --distributed`): each rank trains on its share of every batch of --batch sequences; rank 0 writes the model (see the README)')
    .action(async (f: PretrainFlags) => withCommunicator(f.distributed, async (communicator) => {
      const isRoot = communicator === null || communicator.rank === 0;
      if (f.threads) backend().setThreads(f.threads);
      const log = f.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
      if (f.objective === 'contrastive' && f.backbone && DEFAULT_OBJECTIVE[f.backbone] === 'masked') {
        // Contrastive alone trains the causal network, which a bidirectional backbone does not have.
        throw new ModelError(`--objective contrastive trains a causal network; ${f.backbone} trains masked items: use --objective masked+contrastive`);
      }
      // Ctrl-C stops between two steps with a line saying what was kept (exit 130); a second one kills at once.
      const interrupt = new AbortController();
      process.once('SIGINT', () => {
        interrupt.abort();
        process.once('SIGINT', () => process.exit(130));
      });
      const result = await pretrain({
        communicator: communicator ?? undefined,
        signal: interrupt.signal,
        data: f.data,
        out: f.out,
        resume: f.resume ?? false,
        model: {
          backbone: f.backbone, itemEncoder: f.itemEncoder, objective: f.objective && networkObjective(f.objective), dim: f.dim, blocks: f.blocks, layers: f.layers,
          heads: f.heads, dropout: f.dropout, kernelSize: f.kernelSize,
          dilations: f.dilations as [number, ...number[]], maxLen: f.maxLen, layerNormEps: f.layerNormEps,
          maskProbability: f.maskProbability, featureExperts: f.featureExperts, textInitScale: f.textInitScale,
        },
        train: {
          epochs: f.epochs, batch: f.batch, batchTokens: f.batchTokens, lengthBuckets: f.lengthBuckets, lr: f.lr, loss: f.loss ?? TRAIN_DEFAULTS.loss, negatives: f.negatives, seed: f.seed, patience: f.patience,
          clipNorm: f.clipNorm, weightDecay: f.weightDecay, objective: f.objective ?? null,
          contrastive: {
            weight: f.contrastiveWeight, temperature: f.temperature, projectionDim: f.projectionDim, crop: f.crop,
            maskRate: f.maskRate, reorder: f.reorder,
          },
          heldOut: { weight: f.heldOutWeight, rate: f.heldOutRate },
        },
        progress: createProgress(process.stderr, (f.quiet ?? false) || !isRoot),
        log,
      });
      if (!isRoot) return;
      const summary = {
        out: f.out, epochs: result.epochs, bestEpoch: result.bestEpoch, bestValidNDCG10: result.bestValid, stoppedEarly: result.stoppedEarly,
        popularityValidNDCG10: result.popularityValid,
      };
      // A model that ranks no better than the most popular items should say so, not just print its number.
      if (result.popularityValid !== null && result.bestValid <= result.popularityValid) {
        process.stderr.write(`warning: the best validation NDCG@10 (${result.bestValid.toFixed(4)}) is not above popularity's ` +
          `(${result.popularityValid.toFixed(4)}): this model ranks no better than recommending the most popular items; ` +
          'try more epochs, the full softmax (--negatives 0) or another --lr\n');
      }
      // A run whose last epoch was its best was cut off by --epochs, not by early stopping: on small logs a slow
      // starter (a text item encoder) can look finished at the default epochs while it is still improving.
      if (!result.stoppedEarly && result.epochs > 1 && result.bestEpoch === result.epochs) {
        process.stderr.write(`note: the last epoch (${result.epochs}) was the best on validation, so the model may still be improving; ` +
          'more --epochs may give a better one\n');
      }
      if (f.json) console.log(JSON.stringify(summary));
      else console.log(`model written to ${f.out}: best validation NDCG@10 ${result.bestValid.toFixed(4)} at epoch ${result.bestEpoch} of ${result.epochs}${result.stoppedEarly ? ' (early stop)' : ''}`);
    })), pretrainConfigShape);
}
