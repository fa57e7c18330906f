/** The task and training options `finetune` and `experiment transfer` share, and the task spec built from them. */
import { Command } from 'commander';
import { POOLINGS, TRANSFER_DEFAULTS } from '../config/schema.js';
import { TaskOptionNames, taskSpecOf, tuningOf } from '../api/task.js';
import { TASK_TYPES, TaskSpec } from '../transfer/tasks.js';
import { choiceOption, integerListOption, integerOption, numberOption } from './options.js';

export interface TaskFlags {
  type: (typeof TASK_TYPES)[number];
  label?: string;
  bins?: number[];
  sourceDomain?: string;
  targetDomain?: string;
  negatives: number;
  newItems: number;
  itemPairs: boolean;
  k: number[];
  pooling: (typeof POOLINGS)[number];
  windows: number;
  itemBag: boolean;
  epochs: number;
  batch: number;
  lr?: number;
  weightDecay: number;
  dropout: number;
  warmup: number;
  patience: number;
  testFraction: number;
  labelFraction: number;
}

/** The fine-tuning settings of the flags (the learning rate stays null where the strategy's default applies). */
export function tuningFromFlags(f: TaskFlags) {
  return tuningOf({ ...f, lr: f.lr ?? null });
}

export function withTaskOptions(command: Command): Command {
  return command
    .option('--type <type>', 'classify: predict a user attribute; recommend: cross-domain / cold-start item recommendation; next-item: next-item recommendation on a new platform\'s catalogue (a text base)', choiceOption('type', TASK_TYPES), 'classify')
    .option('--label <column>', 'classify: the attribute column to predict')
    .option('--bins <edges>', 'classify: bucket a numeric attribute at these edges, e.g. 18,25,35,45,50,56', integerListOption('bins'))
    .option('--source-domain <name>', 'recommend: the domain whose sequence represents the user (the base model\'s)')
    .option('--target-domain <name>', 'recommend: the domain to recommend in (gets a new item table)')
    .option('--negatives <n>', 'recommend, next-item: 0 = full softmax over the target items, N = sampled softmax with N negatives', integerOption('negatives', 0), 0)
    .option('--new-items <share>', 'next-item: share of the new platform\'s items held back as arriving after training (no training occurrence, left out of the training softmax; scored from their text), in [0, 1)', numberOption('new-items', { min: 0, max: 0.999999 }), 0)
    .option('--item-pairs', 'recommend: add a learned weight per (source item, target item) pair of the training users to the scores (full softmax only: off with --negatives)', TRANSFER_DEFAULTS.itemPairs)
    .option('--no-item-pairs', 'recommend: score target items by the user vector alone')
    .option('--k <list>', 'recommend, next-item: cut-offs for HR/NDCG/MRR', integerListOption('k'), [5, 10, 20])
    .option('--pooling <how>', 'user vector: last (position), mean, max or attention (a learned query) over the read positions', choiceOption('pooling', POOLINGS), TRANSFER_DEFAULTS.pooling)
    .option('--windows <n>', 'max-len windows read from the end of each history (0 = the whole history)', integerOption('windows', 0), TRANSFER_DEFAULTS.windows)
    .option('--item-bag', 'add a learned vector per item, averaged over the whole history, to the user vector', TRANSFER_DEFAULTS.itemBag)
    .option('--no-item-bag', 'the user vector is the network\'s reading alone')
    .option('--epochs <n>', 'maximum epochs', integerOption('epochs'), TRANSFER_DEFAULTS.epochs)
    .option('--batch <n>', 'examples per batch', integerOption('batch'), TRANSFER_DEFAULTS.batch)
    .option('--lr <x>', 'Adam learning rate (default: per strategy, see the README)', numberOption('lr', { min: 0, exclusiveMin: true }))
    .option('--weight-decay <x>', 'AdamW weight decay on trained weight matrices', numberOption('weight-decay', { min: 0 }), TRANSFER_DEFAULTS.weightDecay)
    .option('--dropout <x>', 'dropout on the user vector while training, in [0, 1)', numberOption('dropout', { min: 0, max: 0.999999 }), TRANSFER_DEFAULTS.dropout)
    .option('--warmup <x>', 'share of the steps with a linear learning-rate warm-up (then linear decay), in [0, 1)', numberOption('warmup', { min: 0, max: 0.999999 }), TRANSFER_DEFAULTS.warmup)
    .option('--patience <n>', 'epochs without validation improvement before stopping', integerOption('patience'), TRANSFER_DEFAULTS.patience)
    .option('--test-fraction <x>', 'fraction of users held out for testing', numberOption('test-fraction', { min: 0, max: 0.9, exclusiveMin: true }), TRANSFER_DEFAULTS.testFraction)
    .option('--label-fraction <x>', 'share of the training/validation users whose labels are used, in (0, 1]', numberOption('label-fraction', { min: 0, max: 1, exclusiveMin: true }), TRANSFER_DEFAULTS.labelFraction);
}

const FLAG_NAMES: TaskOptionNames = { prefix: '', type: '--type', label: '--label', sourceDomain: '--source-domain', targetDomain: '--target-domain', newItems: '--new-items' };

export function taskSpecFromFlags(f: TaskFlags): TaskSpec {
  return taskSpecOf({ ...f, bins: f.bins ?? null, ks: f.k }, FLAG_NAMES);
}

/** `--folds k` of the experiments: cross-validation over each seed's non-test users (1: the usual split). */
export function withFoldsOption(command: Command): Command {
  return command.option('--folds <k>', 'cross-validate over each seed\'s non-test users: every run once per fold, each fold validating in turn (the same test users); a seed\'s numbers are the mean over its folds',
    integerOption('folds', 1, 20), 1);
}
