/** One error class per failure domain, so callers (CLI, server) can map failures to exit codes and messages. */
export class GraftrecError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A kernel rejected its arguments (wrong shape, buffer length, id out of range) or the addon failed to load. */
export class KernelError extends GraftrecError {}

/** A tensor-level misuse: incompatible shapes, backward on a non-scalar, and the like. */
export class ShapeError extends GraftrecError {}

/** Input data is unusable: a missing column, an unparsable id, an empty file, a vocabulary mismatch. */
export class DataError extends GraftrecError {}

/** A model directory or checkpoint is missing, corrupt, or does not match what it is used with. */
export class ModelError extends GraftrecError {}

/** Training cannot go on: the loss or gradients became NaN/infinite, or a resume does not match its run. */
export class TrainingError extends GraftrecError {}

/** A tensor or graph used after it was released: backward twice through one graph, a tensor outliving its scope. */
export class AutogradError extends GraftrecError {}

/** The user stopped a long command (Ctrl-C); what was saved is kept. The CLI exits with 130, as a shell expects. */
export class InterruptedError extends GraftrecError {}

/** A run's settings are unusable: a config file that cannot be read, or holds an unknown key or a bad value. */
export class ConfigError extends GraftrecError {}

/** Distributed training cannot start or go on (no MPI launcher or library, a rank that failed). */
export class DistributedError extends GraftrecError {}
