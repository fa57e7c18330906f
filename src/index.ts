/**
 * graftrec as a library: the pipeline functions (ingest → pretrain → evaluate → finetune → predict / serve) from
 * api/, the tensor layer for building on the kernels, and the error classes every failure is raised as.
 */
export * from './api/index.js';
export * from './tensor/index.js';
export * from './errors.js';
