export * from './tensor/index.js';
export * from './errors.js';
