/**
 * The library API: what `import { … } from 'graftrec'` gives, one function per command-line step. Options are
 * plain objects whose defaults come from the config schema (config/schema.ts), as the command line's do; nothing
 * is printed unless a progress or log callback is passed.
 */
export { synth, ingest } from './data.js';
export type { IngestOptions, IngestProgress, IngestSummary, SynthOptions, SynthSummary } from './data.js';
export { pretrain, loadModel, evaluate } from './model.js';
export type { Model, ModelRef, PretrainOptions, PretrainSummary, EvaluateOptions, Evaluation } from './model.js';
export { recommend, embedUsers, embedItems } from './query.js';
export type { Users, Scored, Vectors, HistoryWording } from './query.js';
export { finetune, loadPatch, predict } from './task.js';
export type { FinetuneOptions, FinetuneSummary, Task, TaskAnswer, TaskBaselines, TaskSpec } from './task.js';
export { serve } from './serve.js';
export type { ServeOptions, ServeOptionNames, RunningServer } from './serve.js';
export type { ItemTextFile } from '../train/catalogue.js';
export { describeDirectory } from './info.js';
export type { DirectoryInfo, ModelInfo, PatchInfo, DatasetInfo } from './info.js';
export type { ProgressCallback, ProgressReport } from './progress.js';
export type { Provenance } from '../config/provenance.js';
export { datasetHash } from '../data/dataset.js';
export {
  BACKBONES, ITEM_ENCODERS, OBJECTIVES, POOLINGS, MODEL_DEFAULTS, TRAIN_DEFAULTS, TRANSFER_DEFAULTS,
  ModelConfigSchema, TrainConfigSchema, TransferConfigSchema,
} from '../config/schema.js';
export type { ModelOptions, ModelConfig, TrainConfig, TransferConfig, Backbone, Objective } from '../config/schema.js';
export { STRATEGIES } from '../transfer/strategies.js';
export type { Strategy } from '../transfer/strategies.js';
export { PATCH_INSERTIONS } from '../transfer/insertion.js';
export type { PatchInsertion } from '../transfer/insertion.js';
export { continualInit, continualAdd, loadContinualTasks } from './continual.js';
export type { ContinualInitOptions, ContinualAddOptions } from './continual.js';
