export {
  Tensor, Parameter, sizeOf, shapeString, scratchScope, setDebugMode, isDebugMode, noteParameterWrite, parameterWriteCount,
  currentScratchScope,
} from './tensor.js';
export type { Shape, GradNode } from './tensor.js';
export { backward, noGrad, isGradEnabled, needsGrad } from './autograd.js';
export { backend } from './backend.js';
export type { Kernels, BackendInfo, PoolStats } from './backend.js';
export { matmul, linear } from './ops/matmul.js';
export { dilatedConv1d } from './ops/conv1d.js';
export type { Conv1dOptions } from './ops/conv1d.js';
export { layerNorm } from './ops/layernorm.js';
export { relu, gelu } from './ops/activation.js';
export { add, reshape, scale, sumProduct, weightedSum } from './ops/elementwise.js';
export { embedding, embeddingBag, leadingRows } from './ops/embedding.js';
export { bottleneckPatch } from './ops/patch.js';
export { segmentMax, segmentSoftmax, segmentWeightedSum } from './ops/pooling.js';
export { applyDropoutMask, dropout, dropoutMask, seededDropout } from './ops/dropout.js';
export type { DropoutStream } from './ops/dropout.js';
export { attention } from './ops/attention.js';
export type { AttentionOptions } from './ops/attention.js';
export { gruRecurrence } from './ops/gru.js';
export { infoNce, l2Normalize } from './ops/contrastive.js';
export type { BottleneckWeights } from './ops/patch.js';
export { softmaxCrossEntropy, sampledSoftmaxCrossEntropy, negativeBce } from './ops/softmax_xent.js';
export type { ExtraLogits } from './ops/softmax_xent.js';
export { Adam, AdamW } from './optim/adam.js';
export type { AdamOptions, AdamState } from './optim/adam.js';
export { clipGradNorm } from './optim/clip.js';
export { Rng } from './rng.js';
